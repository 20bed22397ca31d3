import { Link } from "react-router-dom";

/** The product mark and name (a link home); the mark is decorative. */
export function Brand() {
  return (
    <Link to="/" className="brand">
      <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
        <rect width="32" height="32" rx="7" fill="#1d4ed8" />
        <path d="M9 21l5-6 4 4 5-8" stroke="#fff" strokeWidth="3" fill="none" strokeLinecap="round" strokeLinejoin="round" />
      </svg>
      <span>Customer portal</span>
    </Link>
  );
}
