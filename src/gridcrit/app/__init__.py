"""gridcrit.app stage: the REST API and the web dashboard (``gridcrit serve``).

``gridcrit.app.api.create_app(store, lang="es")`` builds the FastAPI app; ``gridcrit.app.queries``
holds the read-only map/overview queries; ``static/`` the single-page dashboard. See ``docs/app.md``.
"""
