"""The KPI engine: the catalogue of KPI definitions, their formulas and their computation."""
