from django.contrib.auth import views as auth_views
from django.urls import path

from qms.web.views import audit, dead_letters, dictionary, home, tokens

urlpatterns = [
    path("", home.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("site/switch/", home.switch_site, name="switch-site"),
    # data dictionary
    path("dictionary/", dictionary.CharacteristicListView.as_view(), name="dictionary-list"),
    path("dictionary/new/", dictionary.CharacteristicCreateView.as_view(), name="dictionary-create"),
    path("dictionary/export/", dictionary.DictionaryExportView.as_view(), name="dictionary-export"),
    path("dictionary/import/", dictionary.ImportUploadView.as_view(), name="dictionary-import"),
    path("dictionary/import/<str:import_id>/", dictionary.ImportPreviewView.as_view(), name="dictionary-import-preview"),
    path("dictionary/<int:pk>/", dictionary.CharacteristicDetailView.as_view(), name="dictionary-detail"),
    path("dictionary/<int:pk>/edit/", dictionary.CharacteristicUpdateView.as_view(), name="dictionary-edit"),
    path("dictionary/<int:pk>/retire/", dictionary.CharacteristicRetireView.as_view(), name="dictionary-retire"),
    # dead letters
    path("dead-letters/", dead_letters.DeadLetterListView.as_view(), name="dead-letter-list"),
    path("dead-letters/bulk/", dead_letters.DeadLetterBulkView.as_view(), name="dead-letter-bulk"),
    path("dead-letters/<int:pk>/", dead_letters.DeadLetterDetailView.as_view(), name="dead-letter-detail"),
    path("dead-letters/<int:pk>/replay/", dead_letters.DeadLetterReplayView.as_view(), name="dead-letter-replay"),
    path("dead-letters/<int:pk>/discard/", dead_letters.DeadLetterDiscardView.as_view(), name="dead-letter-discard"),
    # API tokens
    path("tokens/", tokens.TokenListView.as_view(), name="token-list"),
    path("tokens/new/", tokens.TokenCreateView.as_view(), name="token-create"),
    path("tokens/<int:pk>/revoke/", tokens.TokenRevokeView.as_view(), name="token-revoke"),
    # audit trail
    path("audit/", audit.AuditListView.as_view(), name="audit-list"),
    path("audit/export/", audit.AuditExportView.as_view(), name="audit-export"),
    path("audit/verify/", audit.VerifyChainView.as_view(), name="audit-verify"),
]
