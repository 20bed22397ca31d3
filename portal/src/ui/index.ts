// The portal's design system: import from "../ui" in pages.
export { Alert, ErrorAlert, type AlertProps, type AlertTone } from "./Alert";
export { Badge, type BadgeTone } from "./Badge";
export { Button, type ButtonProps, type ButtonVariant } from "./Button";
export { Card, type CardProps } from "./Card";
export { CopyButton, SecretValue } from "./CopyButton";
export { Dialog, type DialogProps } from "./Dialog";
export { EmptyState } from "./EmptyState";
export { Checkbox, Field, Select, TextArea, TextInput, type SelectOption } from "./Field";
export { LineChart, type ChartReference, type ChartSeries, type LineChartProps } from "./LineChart";
export { PageHeader, type PageHeaderProps } from "./PageHeader";
export { Pagination, type PaginationProps } from "./Pagination";
export { QueryState, type QueryStateProps } from "./QueryState";
export { Loading, Spinner } from "./Spinner";
export { Table, type Column, type TableProps } from "./Table";
export * from "./format";
