"""Outputs: interactive maps (``maps``), static figures (``figures``), workbook, CSV and HTML report (``report``).
They draw the analyses' results; they compute no analysis of their own."""
