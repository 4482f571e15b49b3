"""/api/v1/ plant model: sites, areas, lines, work-centers, equipment, products, operations."""
from rest_framework.routers import SimpleRouter

from qms.api import plant

router = SimpleRouter()
router.register("sites", plant.SiteViewSet, basename="site")
router.register("areas", plant.AreaViewSet, basename="area")
router.register("lines", plant.LineViewSet, basename="line")
router.register("work-centers", plant.WorkCenterViewSet, basename="work-center")
router.register("equipment", plant.EquipmentViewSet, basename="equipment")
router.register("products", plant.ProductViewSet, basename="product")
router.register("operations", plant.OperationViewSet, basename="operation")

urlpatterns = router.urls
