from django.urls import path

from qms.api import nc

urlpatterns = [
    path("ncs/", nc.NcListView.as_view(), name="api-nc-list"),
    path("ncs/<int:nc_id>/", nc.NcDetailView.as_view(), name="api-nc-detail"),
    path("ncs/<int:nc_id>/attachments/", nc.NcAttachmentView.as_view(), name="api-nc-attachments"),
    path("ncs/<int:nc_id>/dispositions/", nc.DispositionProposeView.as_view(), name="api-nc-dispositions"),
    path("ncs/<int:nc_id>/<slug:transition>/", nc.NcTransitionView.as_view(), name="api-nc-transition"),
    path("dispositions/<int:disposition_id>/approve/", nc.DispositionVoteView.as_view(),
         name="api-disposition-approve"),
    path("attachments/<int:attachment_id>/download/", nc.AttachmentDownloadView.as_view(),
         name="api-attachment-download"),
    path("defect-codes/", nc.DefectCodeListView.as_view(), name="api-defect-code-list"),
    path("defect-codes/<int:code_id>/", nc.DefectCodeDetailView.as_view(), name="api-defect-code-detail"),
    path("defect-codes/<int:code_id>/deactivate/", nc.DefectCodeDeactivateView.as_view(),
         name="api-defect-code-deactivate"),
    path("defect-codes/<int:code_id>/activate/", nc.DefectCodeActivateView.as_view(),
         name="api-defect-code-activate"),
]
