"""Layout checks run inside the page, the same script in Chromium, WebKit and Firefox.

Each constant is a function body (`arguments[0]`... for its inputs) returning plain data, so
Selenium and Marionette run it as it is and Playwright through `evaluate_body`.
"""

from __future__ import annotations

# Text in the main column that a box cuts off: an ellipsis, a label wider than its button, a
# caption under a frame's edge. Every text node's own extent (a Range, not its element's box)
# is compared with each ancestor that clips (overflow other than visible). Scrolling is allowed
# only where it is the element's purpose: vertical scrolling, code blocks, the data grid.
CLIPPED_TEXT = r"""
const main = document.querySelector('[data-testid=stMain]');
const found = [];
const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
const range = document.createRange();
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const text = node.textContent.trim();
  if (!text) continue;
  const owner = node.parentElement;
  if (owner.closest('[data-testid=stDataFrame], [data-testid=stCode], pre, [aria-hidden=true]'))
    continue;
  range.selectNodeContents(node);
  const box = range.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) continue;  // Not shown (a closed expander, a tooltip).
  for (let a = owner; a && a !== main; a = a.parentElement) {
    const style = getComputedStyle(a);
    const clipX = style.overflowX !== 'visible';
    const clipY = style.overflowY !== 'visible' && !['auto', 'scroll'].includes(style.overflowY);
    if (!clipX && !clipY) continue;
    const r = a.getBoundingClientRect();
    // A chart's SVG text boxes include the font's whole ascent: a few pixels over are blank.
    const slack = a.tagName.toLowerCase() === 'svg' ? 4 : 1;
    const cutX = clipX && (box.left < r.left - slack || box.right > r.right + slack);
    const cutY = clipY && (box.top < r.top - slack || box.bottom > r.bottom + slack);
    if (cutX || cutY) {
      found.push({text: text.slice(0, 80), by: (a.getAttribute('data-testid') || a.tagName)
        + (a.className && typeof a.className === 'string' ? '.' + a.className.split(' ')[0] : ''),
        text_box: [box.left, box.top, box.right, box.bottom].map(Math.round),
        clip_box: [r.left, r.top, r.right, r.bottom].map(Math.round)});
      break;
    }
  }
}
return found;
"""

# Frames whose document is taller than the frame (the latent pad in Firefox was 354 in 351).
SHORT_FRAMES = r"""
const found = [];
for (const frame of document.querySelectorAll('[data-testid=stMain] iframe')) {
  let doc;
  try { doc = frame.contentDocument; } catch (e) { continue; }
  if (!doc || !doc.body) continue;
  const needed = Math.ceil(doc.documentElement.getBoundingClientRect().height);
  const shown = frame.getBoundingClientRect().height;
  if (needed > shown + 1) found.push({needed, shown});
}
return found;
"""

# The drawing pad brought into view; its four corners (4 pixels in), whether each is inside
# the viewport and is the pad's canvas itself (not the sidebar, not anything over it).
PAD_CORNERS = r"""
const host = Array.from(document.querySelectorAll('*'))
  .find(e => e.shadowRoot && e.shadowRoot.querySelector('.drawing-pad canvas[data-ready]'));
if (!host) return null;
const canvas = host.shadowRoot.querySelector('.drawing-pad canvas[data-ready]');
canvas.scrollIntoView({block: 'center', inline: 'nearest'});
const r = canvas.getBoundingClientRect();
const inset = 4;  // Inside the 8-pixel rounded corners.
const corners = [[r.left + inset, r.top + inset], [r.right - inset, r.top + inset],
                 [r.left + inset, r.bottom - inset], [r.right - inset, r.bottom - inset]];
return {
  box: [r.left, r.top, r.width, r.height],
  viewport: [window.innerWidth, window.innerHeight],
  corners: corners.map(([x, y]) => {
    const onScreen = x >= 0 && y >= 0 && x <= window.innerWidth && y <= window.innerHeight;
    const top = onScreen ? document.elementFromPoint(x, y) : null;
    const inside = top === host ? host.shadowRoot.elementFromPoint(x, y) : top;
    return {x, y, on_screen: onScreen, is_canvas: inside === canvas};
  }),
};
"""

# Controls in the main column a finger would have to hit, with the size of what it can hit.
# A slider's thumb, a help icon and a chip's x count with their rings (ui/layout.css): their hit
# area is measured by asking which element is at points around the centre, not by drawn size.
TOUCH_TARGETS = r"""
const main = document.querySelector('[data-testid=stMain]');
const selector = 'button, a[href], input:not([type=hidden]), select, textarea, [role=slider],'
  + ' [role=radio], [role=checkbox], [role=switch], [role=tab], [role=button], summary,'
  + ' [tabindex]:not([tabindex="-1"])';
const out = [];
const shown = (el) => {
  for (let a = el; a && a !== main; a = a.parentElement) {
    const style = getComputedStyle(a);
    if (style.visibility === 'hidden' || Number(style.opacity) === 0) return false;
  }
  return true;
};
for (const el of main.querySelectorAll(selector)) {
  // A slider is touched at its thumb: the element around its visually hidden range input.
  const thumb = el.matches('[data-testid=stSlider] input[type=range]')
    ? el.parentElement.parentElement : null;
  const r = (thumb || el).getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || !shown(thumb || el)) continue;
  // A chip's label is not a control (its x is); the multiselect's field is measured below.
  const chips = '[data-testid=stMultiSelectTagsContainer]';
  const chipX = el.matches(`${chips} button[aria-label^=Remove]`);
  if (el.closest(chips) && !chipX) continue;
  if (el.closest('p, li') && el.tagName === 'A') continue;  // Links inside a sentence.
  // What a finger can hit: the element, or the label that wraps it (checkbox, radio, toggle).
  // In a drop-down the whole field is the target: the box under its label.
  const widget = el.closest('[data-testid=stSelectbox], [data-testid=stMultiSelect]');
  let field = null;
  for (let a = el; widget && a.parentElement !== widget; a = a.parentElement) field = a;
  const target = field || el.closest('label, [data-testid=stTextInputRootElement]') || el;
  const box = target.getBoundingClientRect();
  let width = box.width, height = box.height;
  // Small controls with a ring (ui/layout.css): measured by what a finger at points around
  // the centre would hit.
  const ringed = thumb || chipX
    || el.matches('[data-testid=stWidgetLabel] [data-testid=stTooltipHoverTarget] button');
  if (ringed) {
    const ring = thumb || el;
    ring.scrollIntoView({block: 'center'});
    const at = ring.getBoundingClientRect();
    const cx = at.left + at.width / 2, cy = at.top + at.height / 2;
    const hits = (dx, dy) => {
      const hit = document.elementFromPoint(cx + dx, cy + dy);
      return hit === ring || ring.contains(hit);
    };
    let reach = 0;
    while (reach < 30 && hits(reach + 1, 0) && hits(-reach - 1, 0) && hits(0, reach + 1)
           && hits(0, -reach - 1)) reach += 1;
    width = height = 2 * reach + 2;  // The last pixel that hits on each side, and the centre.
  }
  out.push({what: (el.getAttribute('aria-label') || el.textContent || el.tagName).trim()
              .slice(0, 40) || el.tagName,
            role: el.getAttribute('role') || el.tagName.toLowerCase(),
            width: Math.round(width), height: Math.round(height)});
}
return out;
"""


# True once what draws after the page's script has ended is drawn: the lab's layout rules
# (ui/layout.css, a component's stylesheet that arrives after the page) are in effect, every
# chart has its canvas or SVG, every image and frame has loaded, and the latent pad (a frame)
# has drawn its digit. The layout checks measure the page after this, not after a guessed
# number of milliseconds.
SETTLED = r"""
const rules = sheet => { try { return Array.from(sheet.cssRules); } catch (error) { return []; } };
if (!Array.from(document.styleSheets).some(
  sheet => rules(sheet).some(rule => rule.cssText.includes('stSliderTickBar')))) return false;
const charts = Array.from(document.querySelectorAll('[data-testid=stVegaLiteChart]'));
if (!charts.every(chart => chart.querySelector('canvas, svg'))) return false;
if (!Array.from(document.images).every(image => image.complete)) return false;
for (const frame of document.querySelectorAll('iframe')) {
  let inside;
  try { inside = frame.contentDocument; } catch (error) { continue; }  // Another origin.
  if (!inside || inside.readyState !== 'complete') return false;
  const digit = inside.getElementById('digit');
  if (digit && !digit.dataset.renders) return false;
}
return true;
"""


def evaluate_body(page, body: str, *args):
    """Runs one of the bodies above in a Playwright page."""
    return page.evaluate(f"(args) => (function() {{ {body} }}).apply(null, args)", list(args))
