"""Plant model API: sites, areas, lines, work centers, equipment, products and operations.

Views are thin: serializers check types and that a chosen parent lies in one of the requester's sites; the rules
(codes unique per parent, no moves across sites, deletions refused while referenced) live in qms.services.plant.
Machine tokens may read everything of their site and write nothing.
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from qms.api.errors import ApiError
from qms.auth.permissions import ANY_TOKEN
from qms.auth.scoping import SiteScopedQuerysetMixin, allowed_site_ids, resolve_write_site
from qms.models import Area, Equipment, Line, Operation, Product, Site, WorkCenter
from qms.services import plant as plant_services


def raise_in_use(exc: plant_services.InUseError):
    """409 naming what still refers to the record."""
    raise ApiError(
        exc.message, code="in_use", status_code=409,
        details={"referenced_by": [referrer.to_dict() for referrer in exc.referrers]},
    ) from exc


def request_reason(request) -> str:
    """The why of a change: `reason` in the body, or `?reason=` (DELETE requests rarely carry a body)."""
    reason = request.data.get("reason") if hasattr(request.data, "get") else None
    return str(reason or request.query_params.get("reason", "")).strip()


class _ScopedMixin:
    """Related-field choices limited to the requester's sites, so ids of other sites read as unknown."""

    def __init__(self, *args, site_lookup: str, **kwargs):
        self.site_lookup = site_lookup
        super().__init__(*args, **kwargs)

    def get_queryset(self):
        queryset = super().get_queryset()
        request = self.context.get("request")
        if request is None:
            return queryset.none()
        return queryset.filter(**{f"{self.site_lookup}__in": allowed_site_ids(request)})


class ScopedPrimaryKeyRelatedField(_ScopedMixin, serializers.PrimaryKeyRelatedField):
    pass


class ScopedSlugRelatedField(_ScopedMixin, serializers.SlugRelatedField):
    pass


class PlantSerializer(serializers.ModelSerializer):
    """Writes go through the plant services; `reason` (optional) lands in the record's history and the audit trail."""

    reason = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=500)

    def create(self, validated_data):
        reason = validated_data.pop("reason", "")
        return plant_services.create_plant_object(self.Meta.model, validated_data, reason=reason)

    def update(self, instance, validated_data):
        reason = validated_data.pop("reason", "")
        return plant_services.update_plant_object(instance, validated_data, reason=reason)


def site_field(**kwargs):
    return ScopedSlugRelatedField(slug_field="code", queryset=Site.objects.all(), site_lookup="pk", **kwargs)


class SiteSerializer(PlantSerializer):
    class Meta:
        model = Site
        fields = ["id", "code", "name", "timezone", "naming_rule", "reason"]
        extra_kwargs = {"code": {"validators": []}}
        validators = []

    def create(self, validated_data):
        reason = validated_data.pop("reason", "")
        return plant_services.create_site(validated_data, creator=self.context["request"].user, reason=reason)


class AreaSerializer(PlantSerializer):
    site = site_field(required=False, help_text=gettext_lazy("Site code; defaults to your (current) site."))

    class Meta:
        model = Area
        fields = ["id", "site", "code", "name", "reason"]
        validators = []


class LineSerializer(PlantSerializer):
    site = serializers.CharField(source="area.site.code", read_only=True)
    area = ScopedPrimaryKeyRelatedField(queryset=Area.objects.all(), site_lookup="site")
    area_code = serializers.CharField(source="area.code", read_only=True)

    class Meta:
        model = Line
        fields = ["id", "site", "area", "area_code", "code", "name", "reason"]
        validators = []


class WorkCenterSerializer(PlantSerializer):
    site = serializers.CharField(source="line.area.site.code", read_only=True)
    line = ScopedPrimaryKeyRelatedField(queryset=Line.objects.all(), site_lookup="area__site")
    line_code = serializers.CharField(source="line.code", read_only=True)

    class Meta:
        model = WorkCenter
        fields = ["id", "site", "line", "line_code", "code", "name", "reason"]
        validators = []


class EquipmentSerializer(PlantSerializer):
    site = serializers.CharField(source="site.code", read_only=True)
    work_center = ScopedPrimaryKeyRelatedField(queryset=WorkCenter.objects.all(), site_lookup="line__area__site")
    work_center_code = serializers.CharField(source="work_center.code", read_only=True)

    class Meta:
        model = Equipment
        fields = ["id", "site", "work_center", "work_center_code", "code", "name", "kind", "reason"]
        validators = []


class ProductSerializer(PlantSerializer):
    site = site_field(required=False, help_text=gettext_lazy("Site code; defaults to your (current) site."))

    class Meta:
        model = Product
        fields = ["id", "site", "part_number", "revision", "name", "reason"]
        validators = []


class OperationSerializer(PlantSerializer):
    site = serializers.CharField(source="product.site.code", read_only=True)
    product = ScopedPrimaryKeyRelatedField(queryset=Product.objects.all(), site_lookup="site")
    work_center = ScopedPrimaryKeyRelatedField(
        queryset=WorkCenter.objects.all(), site_lookup="line__area__site", required=False, allow_null=True
    )
    reference = serializers.CharField(
        read_only=True, help_text=gettext_lazy("part number/revision/operation code — how the data dictionary names it.")
    )

    class Meta:
        model = Operation
        fields = ["id", "site", "product", "sequence", "code", "name", "work_center", "reference", "reason"]
        validators = []


_REASON_PARAM = OpenApiParameter("reason", OpenApiTypes.STR, description=gettext_lazy(
    "Why the record is deleted (audit trail)."))


@extend_schema_view(destroy=extend_schema(parameters=[_REASON_PARAM]))
class PlantViewSet(SiteScopedQuerysetMixin, viewsets.ModelViewSet):
    """List/retrieve for every member of the site (and its machine tokens); writes need the model permission."""

    token_scopes = {"GET": ANY_TOKEN}

    def perform_destroy(self, instance):
        try:
            plant_services.delete_plant_object(instance, reason=request_reason(self.request))
        except plant_services.InUseError as exc:
            raise_in_use(exc)


class SiteViewSet(PlantViewSet):
    queryset = Site.objects.all()
    serializer_class = SiteSerializer
    filterset_fields = ["code"]

    def get_queryset(self):
        # A site is scoped by its own id; `?code=` selects one.
        return Site.objects.filter(pk__in=allowed_site_ids(self.request))


class SiteChildMixin:
    """Creations without an explicit site land in the requester's (current or only) site."""

    def perform_create(self, serializer):
        site = serializer.validated_data.get("site")
        serializer.save(site=resolve_write_site(self.request, site.code if site else None))


class AreaViewSet(SiteChildMixin, PlantViewSet):
    queryset = Area.objects.select_related("site")
    serializer_class = AreaSerializer
    site_lookup = "site"
    filterset_fields = {"code": ["exact", "startswith"]}


class LineViewSet(PlantViewSet):
    queryset = Line.objects.select_related("area__site")
    serializer_class = LineSerializer
    site_lookup = "area__site"
    filterset_fields = {"code": ["exact", "startswith"], "area": ["exact"], "area__code": ["exact"]}


class WorkCenterViewSet(PlantViewSet):
    queryset = WorkCenter.objects.select_related("line__area__site")
    serializer_class = WorkCenterSerializer
    site_lookup = "line__area__site"
    filterset_fields = {"code": ["exact", "startswith"], "line": ["exact"], "line__code": ["exact"]}


class EquipmentViewSet(PlantViewSet):
    queryset = Equipment.objects.select_related("site", "work_center")
    serializer_class = EquipmentSerializer
    site_lookup = "site"
    filterset_fields = {
        "code": ["exact", "startswith"], "work_center": ["exact"], "work_center__code": ["exact"],
        "work_center__line": ["exact"], "kind": ["exact"],
    }


class ProductViewSet(SiteChildMixin, PlantViewSet):
    queryset = Product.objects.select_related("site")
    serializer_class = ProductSerializer
    site_lookup = "site"
    filterset_fields = {"part_number": ["exact", "startswith"], "revision": ["exact"]}


class OperationViewSet(PlantViewSet):
    queryset = Operation.objects.select_related("product__site", "work_center")
    serializer_class = OperationSerializer
    site_lookup = "product__site"
    filterset_fields = {
        "code": ["exact"], "product": ["exact"], "product__part_number": ["exact"], "product__revision": ["exact"],
        "work_center": ["exact"],
    }

