"""`{% load qp_story %}{% story_chain "nc" nc.pk %}` draws the whole story (alarm → hold → NC → CAPA → closure)
around a record on any detail page; the full page is /story/<kind>/<id>/."""
from django import template

from qms.web.views.story import story_context

register = template.Library()


@register.inclusion_tag("qms/story/_chain.html", takes_context=True)
def story_chain(context, kind: str, pk: int):
    request = context["request"]
    return {**story_context(kind, int(pk), request.user), "request": request, "perms": context.get("perms")}
