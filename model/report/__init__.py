"""Words and figures for people: sentences, tables, translations and plots built from core answers and records."""
