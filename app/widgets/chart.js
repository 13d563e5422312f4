// A Plotly figure drawn by plotly.js's basic bundle (scatter, bar, pie), loaded once per tab from the dashboard's
// static files. Streamlit's own chart element loads the full plotly.js (4.7 MB) in every new tab: seconds of script
// evaluation on a small CPU before the first chart draws.
const BUNDLE = "app/static/plotly-basic-4.1.1.min.js";
// Full screen, as Streamlit's own chart element offers: a mode bar button that shows the chart alone on the screen
// (a projector, a second monitor), as large as the screen; the same button or Esc returns. Offered only where the
// page may go full screen (not in a frame that forbids it, nor on an iPhone).
const FULL_SCREEN = {
  name: "Full screen",
  icon: { width: 24, height: 24, path: "M3 3h7v2H5v5H3zm11 0h7v7h-2V5h-5zM3 14h2v5h5v2H3zm16 0h2v7h-7v-2h5z" },
  click: (root) =>
    (document.fullscreenElement ? document.exitFullscreen() : root.requestFullscreen()).catch((error) =>
      console.warn(`Full screen refused: ${error.message}`),
    ),
};
const CONFIG = {
  displaylogo: false,
  responsive: true,
  modeBarButtonsToAdd: document.fullscreenEnabled ? [FULL_SCREEN] : [],
};
const SERVE_HINT = " Start the dashboard with `counteranimal serve`, which serves the chart library (or pass " +
  "--server.enableStaticServing true to streamlit run).";

function unserved(message) {
  return Object.assign(new Error(message), { unserved: true });
}

function plotly() {
  window.__counteranimalPlotly ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = BUNDLE;
    script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(unserved(`${BUNDLE} is not plotly.js`)));
    script.onerror = () => reject(unserved(`${BUNDLE} did not load`));
    document.head.appendChild(script);
  }).catch((error) => {
    window.__counteranimalPlotly = undefined; // the next chart tries again
    throw error;
  });
  return window.__counteranimalPlotly;
}

// Charts draw one at a time, each in a task of its own, and only once they are visible: the first chart of a page
// shows before the next one is drawn, and a chart in a hidden tab or a closed expander costs nothing until it is
// opened (drawn hidden, it would also take a wrong size). Three charts drawn at once held Scaling's first one back.
let queue = Promise.resolve();
const nextTask = () => new Promise((resolve) => setTimeout(resolve));

function schedule(root) {
  queue = queue
    .then(nextTask)
    .then(() => (root.isConnected && root.pending && root.offsetWidth ? plotly() : null))
    .then((Plotly) => {
      if (!Plotly || !root.pending) return null;
      const figure = root.pending;
      root.pending = null;
      if (!root.layout) root.textContent = ""; // a message left by a failed attempt
      return Plotly.react(root, figure.data, figure.layout, CONFIG);
    })
    .catch((error) => {
      root.pending = null; // the next figure (a rerun, or another chart) tries again; resizing does not
      root.textContent = `No chart: ${error.message}.` + (error.unserved ? SERVE_HINT : "");
    });
}

export default function ({ parentElement, data }) {
  let root = parentElement.querySelector("div.ca-chart");
  if (!root) {
    root = document.createElement("div");
    root.className = "ca-chart";
    parentElement.appendChild(root);
    // Follow the container's width, not only the window's (Plotly's `responsive`): a chart shown in a tab opened
    // later, or after the sidebar is collapsed, draws or resizes to its new width.
    root.resizer = new ResizeObserver(() => {
      if (!root.offsetWidth) return;
      if (root.pending) schedule(root);
      else if (root.layout) window.Plotly?.Plots.resize(root);
    });
    root.resizer.observe(root);
    // Full screen, the box is the screen's size and the plot follows it (the observer above); around the plot the
    // screen would be black.
    root.addEventListener("fullscreenchange", () => {
      root.style.background = document.fullscreenElement === root ? "#ffffff" : "";
    });
  }
  root.classList.toggle("ca-chart-fill", data.fill); // the presenter view's style sheet sizes it to the screen
  const figure = JSON.parse(data.figure);
  if (!data.fill && figure.layout.height == null) {
    figure.layout.height = 450; // Plotly's default, stated: autosize would keep the presenter view's screen height
  }
  root.style.minHeight = data.fill ? "" : `${figure.layout.height}px`; // the page does not jump when the chart draws
  root.pending = figure;
  schedule(root);
  return () => {
    root.resizer.disconnect();
    root.pending = null;
    window.Plotly?.purge(root);
    root.remove(); // a later call draws afresh
  };
}
