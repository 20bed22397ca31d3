import { Link } from "react-router-dom";
import { PageHeader } from "../ui";

export function NotFoundPage() {
  return (
    <>
      <PageHeader title="Page not found" description="There is no page at this address." />
      <p>
        <Link to="/">Go to the dashboard</Link>
      </p>
    </>
  );
}
