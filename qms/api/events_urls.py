from django.urls import path

from qms.api.events import CycleTimeView, EquipmentStateEventView

urlpatterns = [
    path("equipment-events/", EquipmentStateEventView.as_view(), name="api-equipment-events"),
    path("cycle-times/", CycleTimeView.as_view(), name="api-cycle-times"),
]
