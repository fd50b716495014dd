"""A one-click "copy to the clipboard" button, beside the text it copies.

Streamlit's ``st.code`` has a copy icon of its own, but it shows only on hover
and is one more step inside a popover. This button is a tiny
``st.components.v2`` component: it runs in the app's own page (no iframe), so
``navigator.clipboard.writeText`` works where the page is a secure context
(``https://``, ``http://localhost``, ``http://127.0.0.1``). Elsewhere (a server
opened as ``http://0.0.0.0:8501`` or by its LAN address) the browser offers no
``navigator.clipboard``; the button then copies from a hidden text area with
``document.execCommand('copy')``, which Chromium still honours on a click. The
text is shown beside the button as well, selectable by hand, in case both fail.

The text travels as the component's data and is set with ``textContent`` and
``value``: never parsed as HTML.
"""

from __future__ import annotations

import streamlit as st

_JS = """
export default function (component) {
    const { data, parentElement } = component;
    const button = parentElement.querySelector("button");
    const status = parentElement.querySelector(".status");
    const text = (data && data.text) || "";
    const absolute = (data && data.absolute) ? new URL(text, window.location.href).href : text;
    button.textContent = (data && data.label) || "Copy";
    button.setAttribute("data-copy", absolute);
    const fallback = () => {
        const area = document.createElement("textarea");
        area.value = absolute;
        area.setAttribute("readonly", "");
        area.style.position = "fixed";
        area.style.opacity = "0";
        document.body.appendChild(area);
        area.select();
        let done = false;
        try { done = document.execCommand("copy"); } catch (e) { done = false; }
        area.remove();
        return done;
    };
    const say = (done) => {
        status.textContent = done ? "Copied" : "Press Ctrl+C to copy the link shown";
        status.setAttribute("data-copied", done ? "yes" : "no");
    };
    const shortcut = (data && data.shortcut) || "";
    if (shortcut) {
        // One listener for the page; each button registers its keys, the last drawn wins. A button no longer on
        // the page (another page's, or an earlier run's) is never clicked: it would copy a stale link.
        button.title = shortcut;
        window.__featlibCopy = window.__featlibCopy || {};
        window.__featlibCopy[shortcut] = button;
        if (!window.__featlibCopyListening) {
            window.__featlibCopyListening = true;
            document.addEventListener("keydown", (event) => {
                const parts = [];
                if (event.ctrlKey || event.metaKey) parts.push("Mod");
                if (event.altKey) parts.push("Alt");
                if (event.shiftKey) parts.push("Shift");
                parts.push(event.code.startsWith("Key") ? event.code.slice(3) : event.key);
                const target = window.__featlibCopy[parts.join("+")];
                if (target && target.isConnected) {
                    event.preventDefault();
                    target.click();
                }
            });
        }
    }
    button.onclick = async () => {
        if (navigator.clipboard && window.isSecureContext) {
            try { await navigator.clipboard.writeText(absolute); say(true); return; } catch (e) { /* fall back */ }
        }
        say(fallback());
    };
}
"""
_CSS = """
.copy { display: flex; align-items: center; gap: 0.6rem; font-family: var(--st-font, sans-serif); }
button {
    font: inherit; font-size: 0.875rem; padding: 0.25rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
    border: 1px solid var(--st-border-color, rgba(49, 51, 63, 0.2));
    background: var(--st-background-color, white); color: var(--st-text-color, inherit);
}
button:hover { border-color: var(--st-primary-color, #ff4b4b); color: var(--st-primary-color, #ff4b4b); }
.status { font-size: 0.8rem; color: var(--st-text-color, inherit); opacity: 0.7; }
"""
_HTML = '<div class="copy"><button type="button">Copy</button><span class="status" role="status"></span></div>'
_button = st.components.v2.component("featlib_copy_button", html=_HTML, css=_CSS, js=_JS)


def copy_button(text: str, label: str = "Copy", *, key: str, absolute: bool = True, shortcut: str = "") -> None:
    """A button that puts ``text`` on the clipboard in one click, saying "Copied" beside it.

    Args:
        text: what is copied; with ``absolute``, a link relative to the page (``"explore?view=k3x9q2ab"``)
            is made absolute in the browser (``http://host:8501/explore?view=k3x9q2ab``).
        label: the button's text (plain text: set with ``textContent``).
        key: the widget key (one per button on a page).
        absolute: whether ``text`` is a link to resolve against the page's address.
        shortcut: keys that click it from anywhere on the page, as ``"Alt+L"`` (modifiers ``Mod``, ``Alt``,
            ``Shift`` in that order, then a letter; :mod:`featlib.app.shortcuts`), shown as its tooltip.
    """
    _button(
        data={"text": str(text), "label": str(label), "absolute": bool(absolute), "shortcut": str(shortcut)},
        key=key,
        height="content",
    )
