"""The whole-story page and the 8D report, mounted by qms/urls.py at /story/ and (beside the CAPA pages) /capas/."""
from django.urls import path

from qms.web.views import capa_report, story

story_patterns = [
    path("<str:kind>/<int:pk>/", story.StoryView.as_view(), name="story"),
]
capa_report_patterns = [
    path("<int:pk>/report/", capa_report.CapaReportView.as_view(), name="capa-report"),
    path("<int:pk>/report.pdf", capa_report.CapaReportPdfView.as_view(), name="capa-report-pdf"),
]
