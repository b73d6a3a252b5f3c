"""The HR dashboard at /admin/: server-rendered pages for HR admins and managers.

- ``session.py``: sign-in with a cookie that names a real auth session (checked on every request,
  so signing out or revoking ends it on every server process), and CSRF tokens for every POST.
- ``pages.py``: the routes (sign-in, the four report pages, export, static files) and their headers.
- ``views.py``: each report service's answer shaped for its page (KPI cards, chart specs, tables).
- ``labels.py``: every text the pages show, in zh-CN and en.
- ``templates/`` (Jinja2) and ``static/`` (vendored ECharts, dashboard.js, dashboard.css).

The pages hold no logic of their own: every figure comes from the same report services the
GraphQL API and the exports call, with the same role checks.
"""
