"""/api/v1/dead-letters/ — inspect rejected measurement items, replay them (optionally corrected) or discard them.

Users only (machine tokens learn about their rejects from the POST response). The views are thin: the state
changes live in qms.services.dead_letters, which the web UI calls as well.
"""
from __future__ import annotations

import django_filters
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from qms.auth.scoping import SiteScopedQuerysetMixin
from qms.models import DeadLetter
from qms.services.dead_letters import discard_dead_letter, replay_dead_letter


class DeadLetterSerializer(serializers.ModelSerializer):
    site = serializers.SlugRelatedField(slug_field="code", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DeadLetter
        fields = [
            "id", "site", "batch", "index", "payload", "field", "code", "message", "source", "status",
            "created_at", "resolved_at", "resolved_by", "resolution_note",
        ]
        read_only_fields = fields


class ReplayRequestSerializer(serializers.Serializer):
    payload = serializers.JSONField(
        required=False, help_text=gettext_lazy("Corrected item; omit to replay the item unchanged")
    )


class DiscardRequestSerializer(serializers.Serializer):
    note = serializers.CharField(help_text=gettext_lazy("Why the item is not worth keeping (required)"))


class ReplayResultSerializer(serializers.Serializer):
    dead_letter = serializers.IntegerField()
    status = serializers.CharField()
    outcome = serializers.ChoiceField(choices=["stored", "duplicate"])
    measurement_id = serializers.IntegerField(allow_null=True)
    value = serializers.FloatField()
    rounded = serializers.BooleanField()


class DeadLetterFilter(django_filters.FilterSet):
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = DeadLetter
        fields = ["status", "code", "field", "source", "batch"]


class DeadLetterViewSet(SiteScopedQuerysetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = DeadLetter.objects.select_related("site", "resolved_by").order_by("-created_at", "index")
    serializer_class = DeadLetterSerializer
    filterset_class = DeadLetterFilter
    user_perms = {"GET": "qms.view_deadletter", "POST": "qms.change_deadletter"}

    @extend_schema(request=ReplayRequestSerializer, responses=ReplayResultSerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        letter = self.get_object()   # 404 for another site's letter
        data = request.data if isinstance(request.data, dict) else {}
        corrected = data.get("payload")
        if "payload" in data and not isinstance(corrected, dict):
            raise serializers.ValidationError({"payload": _("The corrected payload must be a JSON object.")})
        return Response(replay_dead_letter(letter.pk, user=request.user, corrected_payload=corrected))

    @extend_schema(request=DiscardRequestSerializer, responses=DeadLetterSerializer)
    @action(detail=True, methods=["post"])
    def discard(self, request, pk=None):
        letter = self.get_object()
        data = request.data if isinstance(request.data, dict) else {}
        note = data.get("note")
        discard_dead_letter(letter.pk, user=request.user, note=note if isinstance(note, str) else "")
        letter.refresh_from_db()
        return Response(self.get_serializer(letter).data)
