"""Reports for people: tables (CSV and parquet), figures (PNG) and one self-contained HTML page
per run."""
from .html import Section, write_html
from .tables import SiteLabels, interaction_table, mutation_table, write_table

__all__ = ["Section", "SiteLabels", "interaction_table", "mutation_table", "write_html",
           "write_table"]
