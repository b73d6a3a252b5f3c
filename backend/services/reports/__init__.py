"""Reports: what HR and managers read about training, and the files they take away.

- ``rollups``: the per-person, course and day (and month) sums every fact adds to in its own
  transaction (``Tally``, flushed with the feed), their recount from the facts and the rebuild;
- ``frame``: what every report shares: the period, the filters, who may see whom (HR admins their
  company, managers their own unit's subtree), breakdowns and monthly series;
- one module per report (training effect, credit distribution, training needs, instructors and
  mentors, team view, quiz items, growth profile), each with its figures and its export table;
- ``registry``: the explicit list of exportable reports, and ``exports``: XLSX / CSV files
  written as rows are read.
"""
