"""Request shapes (checked strictly: unknown keys are errors) and response representations for lots and genealogy."""
from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from qms.api.events import AwareDateTimeField, FiniteFloatField, StrictFieldsMixin
from traceability.models import GenealogyEdge, Lot, LotRun

LOT_CODE_MAX = Lot._meta.get_field("code").max_length
UNIT_MAX = Lot._meta.get_field("unit").max_length


@extend_schema_field(OpenApiTypes.ANY)
class ProductReferenceField(serializers.Field):
    """"PART", "PART@REV" or {"part_number": "PART", "revision": "REV"}; resolved against the site by the view."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip():
            return data.strip()
        if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
            return data
        raise serializers.ValidationError(
            _('Name the product as "PART", "PART@REV" or {"part_number": "PART", "revision": "REV"}.')
        )

    def to_representation(self, value):
        return value


class ParentLinkSerializer(StrictFieldsMixin, serializers.Serializer):
    lot = serializers.CharField(max_length=LOT_CODE_MAX)
    quantity = FiniteFloatField(required=False, allow_null=True, min_value=0)
    unit = serializers.CharField(required=False, max_length=UNIT_MAX)


class LotRunTimesMixin:
    def validate(self, attrs):
        started_at, ended_at = attrs.get("started_at"), attrs.get("ended_at")
        if started_at is not None and ended_at is not None and ended_at < started_at:
            raise serializers.ValidationError({"ended_at": [_("The end (%(end)s) lies before the start (%(start)s).")
                                                            % {"end": ended_at.isoformat(),
                                                               "start": started_at.isoformat()}]})
        return attrs


class LotRegistrationSerializer(StrictFieldsMixin, LotRunTimesMixin, serializers.Serializer):
    site = serializers.CharField(required=False, help_text=gettext_lazy("site code; tokens write to their own site"))
    code = serializers.CharField(max_length=LOT_CODE_MAX)
    kind = serializers.ChoiceField(choices=Lot.Kind.choices, required=False)
    equipment = serializers.CharField(required=False, allow_null=True)
    started_at = AwareDateTimeField(required=False, allow_null=True)
    ended_at = AwareDateTimeField(required=False, allow_null=True)
    product = ProductReferenceField(required=False, allow_null=True)
    quantity = FiniteFloatField(required=False, allow_null=True, min_value=0)
    unit = serializers.CharField(required=False, max_length=UNIT_MAX)
    supplier = serializers.CharField(required=False, allow_blank=True, max_length=200)
    parents = ParentLinkSerializer(many=True, required=False)
    close_previous = serializers.BooleanField(required=False, default=False)
    concurrent = serializers.BooleanField(required=False, default=False)


class LotRunStartSerializer(StrictFieldsMixin, LotRunTimesMixin, serializers.Serializer):
    equipment = serializers.CharField()
    started_at = AwareDateTimeField()
    ended_at = AwareDateTimeField(required=False, allow_null=True)
    close_previous = serializers.BooleanField(required=False, default=False)
    concurrent = serializers.BooleanField(required=False, default=False)


class LotRunEndSerializer(StrictFieldsMixin, serializers.Serializer):
    ended_at = AwareDateTimeField()


class LotEndSerializer(StrictFieldsMixin, serializers.Serializer):
    ended_at = AwareDateTimeField()
    equipment = serializers.CharField(required=False)


class NewGenealogyEdgeSerializer(StrictFieldsMixin, serializers.Serializer):
    site = serializers.CharField(required=False)
    parent = serializers.CharField(max_length=LOT_CODE_MAX)
    child = serializers.CharField(max_length=LOT_CODE_MAX)
    quantity = FiniteFloatField(required=False, allow_null=True, min_value=0)
    unit = serializers.CharField(required=False, max_length=UNIT_MAX)


# --- representations -----------------------------------------------------------------------------------------------


class LotRunInLotSerializer(serializers.ModelSerializer):
    equipment = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = LotRun
        fields = ["id", "equipment", "started_at", "ended_at", "concurrent"]


class LotRunSerializer(LotRunInLotSerializer):
    lot = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta(LotRunInLotSerializer.Meta):
        fields = ["id", "lot", "equipment", "started_at", "ended_at", "concurrent"]


class LotProductSerializer(serializers.Serializer):
    part_number = serializers.CharField()
    revision = serializers.CharField()


class LotLinkSerializer(serializers.Serializer):
    lot = serializers.CharField()
    quantity = serializers.FloatField(allow_null=True)
    unit = serializers.CharField()


class LotSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    product = LotProductSerializer(read_only=True, allow_null=True)
    runs = serializers.SerializerMethodField()
    parents = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()

    class Meta:
        model = Lot
        fields = ["code", "site", "kind", "product", "quantity", "unit", "supplier", "created_at",
                  "runs", "parents", "children"]

    @extend_schema_field(LotRunInLotSerializer(many=True))
    def get_runs(self, lot):
        runs = sorted(lot.runs.all(), key=lambda run: run.started_at)
        return LotRunInLotSerializer(runs, many=True).data

    @extend_schema_field(LotLinkSerializer(many=True))
    def get_parents(self, lot):
        edges = sorted(lot.parent_edges.all(), key=lambda edge: edge.parent.code)
        return [{"lot": edge.parent.code, "quantity": edge.quantity, "unit": edge.unit} for edge in edges]

    @extend_schema_field(LotLinkSerializer(many=True))
    def get_children(self, lot):
        edges = sorted(lot.child_edges.all(), key=lambda edge: edge.child.code)
        return [{"lot": edge.child.code, "quantity": edge.quantity, "unit": edge.unit} for edge in edges]


class GenealogyEdgeSerializer(serializers.ModelSerializer):
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True)
    child = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = GenealogyEdge
        fields = ["id", "parent", "child", "quantity", "unit", "created_at"]
