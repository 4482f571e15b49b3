from django.contrib.auth import views as auth_views
from django.urls import path

from qms.web import views

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("site/switch/", views.switch_site, name="switch-site"),
]
