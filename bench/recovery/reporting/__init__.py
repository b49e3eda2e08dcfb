"""The recovery study's reporting and verdicts, apart from its engine: pure functions of saved
results (`bench report` rebuilds any of them).

- evidence: cross-fitted best cells (Table), paired differences over images and generator seeds
  (Diff), the claims' verdicts per generator and the isometric question;
- render, sections, tables, departures, plots: the report, its sections, its tables and figures;
- dependence: the generator-dependence study's report over the same pieces.
"""
