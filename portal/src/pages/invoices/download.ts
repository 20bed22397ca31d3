/**
 * "Download PDF": the document comes through the API client (so it carries the
 * bearer token and gets the client's refresh-on-401), then is handed to the
 * browser as a Blob download named after the invoice number.
 *
 * Why not a plain link to the PDF's URL: the API wants the bearer token in a
 * header, which a link cannot send, and the token never goes into a URL.
 */
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";

/** A file name from an invoice number: letters, digits, dot, dash and underscore kept. */
export function pdfFileName(invoiceNumber: string): string {
  const safe = invoiceNumber.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  return `${safe || "invoice"}.pdf`;
}

/** Fetch the invoice's PDF and save it as `<number>.pdf`; rejects with an ApiError the page shows. */
export async function downloadInvoicePdf(invoiceId: string, invoiceNumber: string): Promise<void> {
  const blob = await unwrap(
    api.GET("/invoices/{invoice_id}/pdf", {
      params: { path: { invoice_id: invoiceId } },
      headers: { Accept: "application/pdf" },
      parseAs: "blob",
    }),
  );
  const url = URL.createObjectURL(blob.type === "application/pdf" ? blob : new Blob([blob], { type: "application/pdf" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = pdfFileName(invoiceNumber);
  link.hidden = true;
  document.body.append(link);
  try {
    link.click();
  } finally {
    link.remove();
    // The download has started from the URL by now; a moment's grace before freeing it.
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}
