"""/api/v1/characteristics/ — the data dictionary (CRUD, retire, history, export, import)."""
from rest_framework.routers import SimpleRouter

from qms.api.dictionary import CharacteristicViewSet

router = SimpleRouter()
router.register("characteristics", CharacteristicViewSet, basename="characteristic")

urlpatterns = router.urls
