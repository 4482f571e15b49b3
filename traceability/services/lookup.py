"""Resolving the codes MES sends (lot, equipment, product) within one site, with errors that name what is wrong."""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from qms.models import Equipment, Product, Site
from qms.services.production_events import TimestampError, check_timestamp_plausible
from traceability.models import Lot

LOT_CODE_MAX_LENGTH = Lot._meta.get_field("code").max_length
# Lot codes travel in URL paths (/api/v1/lots/{code}/): no whitespace, slashes or URL delimiters.
_LOT_CODE = re.compile(r"^[^\s/\\?#%]+$")


def check_lot_code(code, *, field: str = "code") -> str:
    if not isinstance(code, str) or not code.strip():
        raise ValidationError({field: _("A lot code is required.")})
    code = code.strip()
    if len(code) > LOT_CODE_MAX_LENGTH:
        raise ValidationError({field: _("A lot code has at most %(n)s characters.") % {"n": LOT_CODE_MAX_LENGTH}})
    if not _LOT_CODE.match(code):
        raise ValidationError(
            {field: _("The lot code %(code)r contains whitespace, '/', '\\', '?', '#' or '%%'.") % {"code": code}}
        )
    return code


def iso(value: datetime) -> str:
    """A timestamp as the API writes it: UTC, "Z"."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_timestamp(field: str, value: datetime | None, now: datetime | None = None) -> None:
    """Services accept only aware, plausible timestamps, whoever calls them."""
    if value is None:
        return
    try:
        check_timestamp_plausible(value, now or timezone.now())
    except TimestampError as exc:
        raise ValidationError({field: str(exc)}) from None


def check_aware(field: str, value: datetime | None) -> None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValidationError({field: _("The timestamp %(value)s has no time zone.") % {"value": value.isoformat()}})


def lots_by_codes(site: Site, codes: Iterable[str], *, field: str) -> dict[str, Lot]:
    """All the named lots of `site`, or a ValidationError on `field` listing every unknown code."""
    wanted = list(dict.fromkeys(codes))
    found = {lot.code: lot for lot in Lot.objects.filter(site=site, code__in=wanted)}
    unknown = [code for code in wanted if code not in found]
    if unknown:
        raise ValidationError({field: _("Unknown lot(s) in site %(site)s: %(codes)s.")
                               % {"site": site.code, "codes": ", ".join(unknown)}})
    return found


def lot_by_code(site: Site, code: str, *, field: str = "lot") -> Lot:
    return lots_by_codes(site, [code], field=field)[code]


def equipment_by_code(site: Site, code, *, field: str = "equipment") -> Equipment:
    if not isinstance(code, str) or not code.strip():
        raise ValidationError({field: _("Name the equipment by its code.")})
    equipment = Equipment.objects.filter(site=site, code=code.strip()).first()
    if equipment is None:
        raise ValidationError({field: _("Unknown equipment %(code)s in site %(site)s.")
                               % {"code": code, "site": site.code}})
    return equipment


def product_by_reference(site: Site, reference, *, field: str = "product") -> Product:
    """A product named as "PART", "PART@REV" or {"part_number": "PART", "revision": "REV"}.

    A bare part number is accepted only while the site has a single revision of it: with several, guessing would
    attach the lot to the wrong drawing, so the error lists the revisions to choose from.
    """
    if isinstance(reference, dict):
        part_number, revision = reference.get("part_number"), reference.get("revision")
        unexpected = sorted(set(reference) - {"part_number", "revision"})
        if unexpected:
            raise ValidationError({field: _("Unexpected key(s) in product: %(keys)s.") % {"keys": ", ".join(unexpected)}})
    elif isinstance(reference, str):
        part_number, _sep, revision = reference.partition("@")
        revision = revision or None
    else:
        raise ValidationError({field: _('Name the product as "PART", "PART@REV" or {"part_number", "revision"}.')})
    if not isinstance(part_number, str) or not part_number.strip():
        raise ValidationError({field: _("The product needs a part number.")})
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        raise ValidationError({field: _("The revision must be a non-empty string.")})
    candidates = Product.objects.filter(site=site, part_number=part_number.strip())
    if revision is not None:
        candidates = candidates.filter(revision=revision.strip())
    products = list(candidates[:10])
    label = part_number.strip() + (f"@{revision.strip()}" if revision else "")
    if not products:
        raise ValidationError({field: _("Unknown product %(product)s in site %(site)s.")
                               % {"product": label, "site": site.code}})
    if len(products) > 1:
        revisions = ", ".join(sorted(p.revision for p in products))
        raise ValidationError({field: _("Part number %(pn)s has several revisions (%(revisions)s): send %(pn)s@REV.")
                               % {"pn": part_number.strip(), "revisions": revisions}})
    return products[0]
