"""Bring a part of the page into view once, e.g. a run just started on a phone, where the
live view sits below the settings and off screen (issue 27). A components-v2 component with
no HTML and no user text: its script finds the element by its Streamlit key and scrolls to it
only when it is not already on screen, once per token."""

from __future__ import annotations

import streamlit as st

JS = """
const done = new Set();  // Tokens already scrolled to: a rerun never scrolls the page again.

export default function (component) {
  const { data } = component;
  if (done.has(data.token)) return;
  done.add(data.token);
  // The element is drawn in the same script run: wait a frame for it to be laid out.
  requestAnimationFrame(() => {
    const target = document.querySelector(`.st-key-${data.key}`);
    if (!target) return;
    const box = target.getBoundingClientRect();
    if (box.top < 0 || box.top > window.innerHeight * 0.6) {
      target.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  });
}
"""
SCROLL = st.components.v2.component("autoencoder_lab.scroll", js=JS)


def into_view(key: str, token: str) -> None:
    """Scroll the container with Streamlit key `key` into view, once per `token`."""
    SCROLL(
        data={"key": key, "token": token}, key=f"scroll_{key}", width="content", height="content"
    )
