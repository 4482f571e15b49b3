"""/rules/ — reaction-rule pages."""
from django.urls import path

from qms.web.views import rules

urlpatterns = [
    path("", rules.RuleListView.as_view(), name="rule-list"),
    path("new/", rules.RuleCreateView.as_view(), name="rule-create"),
    path("<int:pk>/", rules.RuleDetailView.as_view(), name="rule-detail"),
    path("<int:pk>/history/", rules.RuleHistoryView.as_view(), name="rule-history"),
    path("<int:pk>/edit/", rules.RuleUpdateView.as_view(), name="rule-edit"),
    path("<int:pk>/toggle/", rules.RuleToggleView.as_view(), name="rule-toggle"),
]
