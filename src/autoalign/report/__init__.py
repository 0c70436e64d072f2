"""What protocols build their report sections from: formatting of estimates (``fmt.py``), figures
saved atomically (``figures.py``), shared plots and sections, and the endpoints table.

The page itself (``report.html``, one per run) is written by ``autoalign.orchestration.report``,
which sits above the protocols and asks each for its section.
"""
