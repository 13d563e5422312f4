"""Dashboard entry point: `counteranimal serve` (or `streamlit run app/main.py`)."""

import streamlit as st

from app.queries import DataError

st.set_page_config(page_title="CounterAnimal Explorer", page_icon=":material/pets:", layout="wide")

# Streamlit forgets a widget's value when its page is not shown; re-assigning every value keeps the choices
# (setup, scale, filters, models) when the user visits another page and comes back.
for key in list(st.session_state):
    st.session_state[key] = st.session_state[key]

pages = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/scatter_plot:", default=True),
    st.Page("app_pages/scaling.py", title="Scaling", icon=":material/bar_chart:"),
    st.Page("app_pages/classes.py", title="Classes", icon=":material/pets:"),
    st.Page("app_pages/about.py", title="About", icon=":material/info:"),
]
page = st.navigation(pages)
try:
    page.run()
except DataError as error:  # a missing or malformed results file: say what and how to fix it, no traceback
    st.error(f"**The dashboard cannot read its data.** {error}")
