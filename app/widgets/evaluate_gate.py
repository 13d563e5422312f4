"""The Evaluate page's gate on a shared dashboard (`counteranimal serve --host 0.0.0.0`, or `$COUNTERANIMAL_SHARED`):
uploads, paths on the server and GPU jobs are for people holding the operator's token. A local dashboard (listening on
the loopback address only) has no gate; the other pages never have one."""

from __future__ import annotations

import hmac

import streamlit as st

from app.widgets.navigation import end_page
from engine.config import EVALUATE_TOKEN_ENV, evaluate_token, marked_shared

UNLOCKED = "evaluate_unlocked"  # session state: this browser session has entered the token
OFF = (
    "**Evaluation is off on this shared dashboard.** It can be reached from other machines, so uploads, paths on the "
    "server and GPU jobs wait for the operator: to turn evaluation on, set `{env}` to a secret (e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe())'`) and restart the dashboard; visitors then enter that "
    "secret here. Every other page stays open."
)
ASK = (
    "**This dashboard is shared: evaluating a model needs the token the operator set.** It unlocks this page "
    "for this browser tab until it is closed or reloaded. Every other page stays open."
)


def token_matches(entered: str, token: str) -> bool:
    """Whether a visitor's entry is the token, in constant time (the time taken says nothing about how much of it
    matched). An empty token matches nothing."""
    return bool(token) and hmac.compare_digest(entered.strip().encode(), token.encode())


def require_access() -> None:
    """Let the page go on when evaluation is allowed here; otherwise say why, ask for the token if there is one, and
    end the page (no form, no job list: its cards hold Cancel and Retry, its requests and logs paths on the server)."""
    if not marked_shared() or st.session_state.get(UNLOCKED):
        return
    token = evaluate_token()
    if not token:
        st.info(OFF.format(env=EVALUATE_TOKEN_ENV), icon=":material/lock:")
        end_page()
    st.info(ASK, icon=":material/lock:")
    entered = st.text_input("Evaluation token", type="password", key="evaluate_token")
    if entered and token_matches(entered, token):
        st.session_state[UNLOCKED] = True
        st.rerun()  # the page again, unlocked; the entry's widget is gone, and with it the entry
    if entered:
        st.error("That is not this dashboard's evaluation token.", icon=":material/block:")
    end_page()
