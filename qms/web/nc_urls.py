"""Nonconformance pages, mounted at /nc/ by qms/urls.py."""
from django.urls import path

from qms.web.views import nc as views

urlpatterns = [
    path("", views.NcListView.as_view(), name="nc-list"),
    path("new/", views.NcCreateView.as_view(), name="nc-create"),
    path("defect-codes/", views.DefectCodeListView.as_view(), name="defect-code-list"),
    path("defect-codes/<int:code_id>/deactivate/", views.DefectCodeActiveView.as_view(active=False),
         name="defect-code-deactivate"),
    path("defect-codes/<int:code_id>/activate/", views.DefectCodeActiveView.as_view(active=True),
         name="defect-code-activate"),
    path("attachments/<int:attachment_id>/", views.AttachmentView.as_view(), name="nc-attachment"),
    path("dispositions/<int:disposition_id>/vote/", views.DispositionVoteView.as_view(), name="disposition-vote"),
    path("<int:pk>/", views.NcDetailView.as_view(), name="nc-detail"),
    path("<int:pk>/edit/", views.NcEditView.as_view(), name="nc-edit"),
    path("<int:pk>/attachments/", views.NcAttachView.as_view(), name="nc-attach"),
    path("<int:pk>/dispositions/", views.NcProposeView.as_view(), name="nc-propose"),
    path("<int:pk>/<slug:transition>/", views.NcTransitionView.as_view(), name="nc-transition"),
]
