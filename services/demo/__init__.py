"""Demo data: `tme demo` fills a project with realistic, reproducible traffic (visitors, sessions,
pages, referrers, campaigns, devices, funnels, identified users, returning visitors, bots),
through the real ingest path or a bulk path that stores the same rows.

  catalog     the demo site: pages, referrers, campaigns, user agents, events of the funnel
  generator   the seeded generator of Segment-shaped events, in time order
  rows        those events -> stored rows, with the gateway's and the subscriber's own code
  ingest      sends them to the gateway's `/v1/batch`
  bulk        writes them to PostgreSQL by binary COPY (the subscriber's writer)
  account     the demo account and project, and the saved credentials
  live        a gentle live trickle for the realtime view
  command     the `tme demo` subcommand
"""
