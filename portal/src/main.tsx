/**
 * Entry: load /config.json first (the API client is built from it), then the app.
 * The app is imported after the config on purpose: api/client.ts reads it at import.
 */
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { loadConfig } from "./config";
import "./ui/styles.css";

const root = createRoot(document.getElementById("root")!);

loadConfig()
  .then(() => import("./App"))
  .then(({ App }) =>
    root.render(
      <StrictMode>
        <App />
      </StrictMode>,
    ),
  )
  .catch((error: unknown) => {
    root.render(
      <main className="auth-page">
        <div className="auth-card">
          <h1>The portal could not start</h1>
          <p role="alert">{error instanceof Error ? error.message : String(error)}</p>
        </div>
      </main>,
    );
  });
