"""/api/v1/verdicts/ routes (plain Django views, see views.py)."""
from django.urls import path

from traceability.verdicts.views import lot_verdict, query_verdicts

urlpatterns = [
    path("verdicts/lots/<str:lot_code>/", lot_verdict, name="api-verdict-lot"),
    path("verdicts/query/", query_verdicts, name="api-verdict-query"),
]
