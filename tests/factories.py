"""factory_boy factories for the foundation models. Later issues add theirs beside these."""
import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from qms.auth.tokens import issue_token
from qms.models import Area, Characteristic, Equipment, Line, Operation, Product, Site, SiteMembership, WorkCenter
from traceability.models import Lot, LotRun


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"S{n + 1}")
    name = factory.LazyAttribute(lambda o: f"Plant {o.code}")


class AreaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Area

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"A{n}")


class LineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Line

    area = factory.SubFactory(AreaFactory)
    code = factory.Sequence(lambda n: f"L{n}")


class WorkCenterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkCenter

    line = factory.SubFactory(LineFactory)
    code = factory.Sequence(lambda n: f"WC{n}")


class EquipmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Equipment

    code = factory.Sequence(lambda n: f"IMM{n + 1:02d}")
    work_center = factory.SubFactory(WorkCenterFactory)
    site = factory.LazyAttribute(lambda o: o.work_center.line.area.site)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    site = factory.SubFactory(SiteFactory)
    part_number = factory.Sequence(lambda n: f"PN-{n:04d}")
    revision = "A"


class OperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Operation

    product = factory.SubFactory(ProductFactory)
    sequence = factory.Sequence(lambda n: (n + 1) * 10)
    code = factory.Sequence(lambda n: f"OP{n}")


class CharacteristicFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Characteristic

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"IMM01.BARREL_Z{n}.TEMP")
    name_en = "Barrel zone temperature"
    name_zh = "料筒温度"
    unit = "°C"
    precision = 1
    physical_min = 0.0
    physical_max = 400.0
    nominal = 230.0
    lsl = 225.0
    usl = 235.0


class LotFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lot

    site = factory.SubFactory(SiteFactory)
    code = factory.Sequence(lambda n: f"L-{n:05d}")


class LotRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LotRun

    lot = factory.SubFactory(LotFactory)
    equipment = factory.SubFactory(EquipmentFactory)
    started_at = factory.Faker("date_time", tzinfo=__import__("datetime").UTC)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-Quality-2026")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        """UserFactory(role="quality_engineer") puts the user in that role's group."""
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()

    @factory.post_generation
    def sites(self, create, extracted, **kwargs):
        """UserFactory(sites=[site]) makes the user a member of those sites."""
        if create and extracted:
            for site in extracted:
                SiteMembership.objects.get_or_create(user=self, site=site)


def make_token(site, scopes=("ingest",), name=None):
    """Issue a machine token; returns (ApiToken, raw token string)."""
    return issue_token(name=name or f"MES-{site.code}-{'-'.join(scopes) or 'none'}", site=site, scopes=list(scopes))


# --- lots and production events (traceability) ---------------------------------------------------------------------
from rest_framework.test import APIClient  # noqa: E402

from traceability.models import GenealogyEdge  # noqa: E402


class GenealogyEdgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenealogyEdge

    parent = factory.SubFactory(LotFactory, kind="material")
    child = factory.SubFactory(LotFactory, site=factory.SelfAttribute("..parent.site"))
    quantity = 1.0
    unit = "kg"


def token_client(site, scopes=("ingest",), name=None):
    """An APIClient authenticated with a fresh machine token of `site`; returns (client, ApiToken)."""
    token, raw = make_token(site, scopes=scopes, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client, token


def user_client(user):
    """An APIClient logged in as `user` (a real session, as the browser has)."""
    client = APIClient()
    client.force_login(user)
    return client


# --- connectors (core) -----------------------------------------------------------------------------------------------
from connectors.models import Connector, TagMapping  # noqa: E402


class ConnectorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Connector

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"opcua-{n}")
    kind = "opcua"
    config = factory.LazyFunction(lambda: {"endpoint": "opc.tcp://127.0.0.1:4840"})


class TagMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagMapping

    connector = factory.SubFactory(ConnectorFactory)
    characteristic = factory.SubFactory(CharacteristicFactory, site=factory.SelfAttribute("..connector.site"))
    source_ref = factory.Sequence(lambda n: f"ns=2;s=Tag{n}")
