// A Plotly figure drawn by plotly.js's basic bundle (scatter, bar, pie), loaded once per tab from the dashboard's
// static files. Streamlit's own chart element loads the full plotly.js (4.7 MB) in every new tab: seconds of script
// evaluation on a small CPU before the first chart draws.
const BUNDLE = "app/static/plotly-basic-4.1.1.min.js";

function plotly() {
  window.__counteranimalPlotly ??= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = BUNDLE;
    script.onload = () => resolve(window.Plotly);
    script.onerror = () => reject(new Error(`${BUNDLE} did not load`));
    document.head.appendChild(script);
  });
  return window.__counteranimalPlotly;
}

export default function ({ parentElement, data }) {
  let root = parentElement.querySelector("div.ca-chart");
  if (!root) {
    root = document.createElement("div");
    root.className = "ca-chart";
    parentElement.appendChild(root);
  }
  root.classList.toggle("ca-chart-fill", data.fill);  // the presenter view's style sheet sizes it to the screen
  const figure = JSON.parse(data.figure);
  if (!data.fill && figure.layout.height == null) {
    figure.layout.height = 450;  // Plotly's default, stated: autosize would keep the presenter view's screen height
  }
  plotly().then(
    (Plotly) => Plotly.react(root, figure.data, figure.layout, { displaylogo: false, responsive: true }),
    (error) => {
      root.textContent = `No chart: ${error.message}. Start the dashboard with \`counteranimal serve\`, which ` +
        "serves the chart library (or pass --server.enableStaticServing true to streamlit run).";
    },
  );
  return () => window.Plotly?.purge(root);
}
