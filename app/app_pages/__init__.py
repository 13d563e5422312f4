"""The dashboard pages, each a script run by `st.navigation` (app/main.py); thin: widgets, queries, charts."""
