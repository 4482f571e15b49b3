"""/api/v1/ administration: machine tokens and the audit trail."""
from django.urls import path
from rest_framework.routers import SimpleRouter

from qms.api.admin_api import ApiTokenViewSet, AuditEntryViewSet, AuditExportView

router = SimpleRouter()
router.register("tokens", ApiTokenViewSet, basename="apitoken")
router.register("audit", AuditEntryViewSet, basename="auditentry")

urlpatterns = [
    # Before the router, so "export" is not read as an entry's sequence number.
    path("audit/export/", AuditExportView.as_view(), name="audit-export"),
    *router.urls,
]
