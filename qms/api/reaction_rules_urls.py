"""/api/v1/reaction-rules/ — reaction rules (list, create, detail, update, enable/disable, history)."""
from rest_framework.routers import SimpleRouter

from qms.api.reaction_rules import ReactionRuleViewSet

router = SimpleRouter()
router.register("reaction-rules", ReactionRuleViewSet, basename="reaction-rule")

urlpatterns = router.urls
