// A Plotly figure drawn by plotly.js's basic bundle (scatter, bar, pie), loaded once per tab from the dashboard's
// static files. Streamlit's own chart element loads the full plotly.js (4.7 MB) in every new tab: seconds of script
// evaluation on a small CPU before the first chart draws.
const BUNDLE = "app/static/plotly-basic-4.1.1.min.js";
const CONFIG = { displaylogo: false, responsive: true };

function plotly() {
  window.__counteranimalPlotly ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = BUNDLE;
    script.onload = () => (window.Plotly ? resolve(window.Plotly) : reject(new Error(`${BUNDLE} is not plotly.js`)));
    script.onerror = () => reject(new Error(`${BUNDLE} did not load`));
    document.head.appendChild(script);
  }).catch((error) => {
    window.__counteranimalPlotly = undefined; // the next chart tries again
    throw error;
  });
  return window.__counteranimalPlotly;
}

export default function ({ parentElement, data }) {
  let root = parentElement.querySelector("div.ca-chart");
  if (!root) {
    root = document.createElement("div");
    root.className = "ca-chart";
    parentElement.appendChild(root);
    // Follow the container's width, not only the window's (Plotly's `responsive`): a chart drawn in a hidden tab or
    // before the sidebar is collapsed would keep its first width.
    root.resizer = new ResizeObserver(() => root.offsetWidth && root.layout && window.Plotly?.Plots.resize(root));
    root.resizer.observe(root);
  }
  root.classList.toggle("ca-chart-fill", data.fill); // the presenter view's style sheet sizes it to the screen
  const figure = JSON.parse(data.figure);
  if (!data.fill && figure.layout.height == null) {
    figure.layout.height = 450; // Plotly's default, stated: autosize would keep the presenter view's screen height
  }
  root.style.minHeight = data.fill ? "" : `${figure.layout.height}px`; // the page does not jump when the chart draws
  plotly().then(
    (Plotly) => root.isConnected && Plotly.react(root, figure.data, figure.layout, CONFIG),
    (error) => {
      root.textContent = `No chart: ${error.message}. Start the dashboard with \`counteranimal serve\`, which ` +
        "serves the chart library (or pass --server.enableStaticServing true to streamlit run).";
    },
  );
  return () => {
    root.resizer.disconnect();
    window.Plotly?.purge(root);
    root.remove(); // a later call draws afresh
  };
}
