/**
 * The signed-in shell: header (tenant, user, logout), side nav filtered by role
 * (a top menu behind a "Menu" button on a phone), and the page in <main>.
 */
import { Suspense, useEffect, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { NAV } from "../nav";
import { useSession } from "../session/useSession";
import { Button, Loading } from "../ui";
import { Brand } from "./Brand";

export function Layout() {
  const session = useSession();
  const location = useLocation();
  const [menuOpen, setMenuOpen] = useState(false);
  const [loggingOut, setLoggingOut] = useState(false);

  useEffect(() => setMenuOpen(false), [location.pathname]);

  // While the tenant requires MFA this session lacks, the API refuses all but enrolment: offer only that.
  const entries = session.mfaEnrolmentRequired ? NAV.filter((e) => e.path === "/security") : NAV.filter((e) => session.can(e.permission));

  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <Brand />
        <div className="header-user">
          <div className="header-identity">
            <span className="tenant">{session.customer?.name ?? ""}</span>
            <span className="who">
              {session.user?.name ?? session.user?.email}
              {session.role ? ` · ${session.role}` : ""}
            </span>
          </div>
          <Button
            variant="secondary"
            size="sm"
            className="menu-toggle"
            aria-expanded={menuOpen}
            aria-controls="side-nav"
            onClick={() => setMenuOpen((open) => !open)}
          >
            Menu
          </Button>
          <Button
            variant="secondary"
            size="sm"
            loading={loggingOut}
            onClick={() => {
              setLoggingOut(true);
              void session.logout().finally(() => setLoggingOut(false));
            }}
          >
            Log out
          </Button>
        </div>
      </header>
      <div className="app-body">
        <nav id="side-nav" aria-label="Main" className={menuOpen ? "side-nav open" : "side-nav"}>
          <ul>
            {entries.map((entry) => (
              <li key={entry.path}>
                <NavLink to={entry.path} end={entry.path === "/"}>
                  {entry.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" className="main" tabIndex={-1}>
          {/* The shell stays while a page's chunk loads (App.tsx loads each page lazily). */}
          <Suspense fallback={<Loading label="Loading the page…" />}>
            <Outlet />
          </Suspense>
        </main>
      </div>
    </>
  );
}
