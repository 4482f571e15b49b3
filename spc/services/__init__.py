"""SPC domain services: chart configuration, limit revisions, live evaluation, chart data and capability.

Views, consumers and tasks call these; these never import views, consumers or protocol code.
"""
