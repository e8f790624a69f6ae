import { Button, Spinner } from "@fluentui/react-components";
import { ArrowDownloadRegular } from "@fluentui/react-icons";
import { useState } from "react";
import { downloadCsv } from "../api/client.ts";
import { ErrorBar } from "./ErrorBar.tsx";

/**
 * Downloads a CSV: from an API export route (`path`) or built in the browser (`build`, e.g.
 * downloadRowsAsCsv over the loaded rows).
 */
export function CsvExportButton({
  path,
  build,
  fileName,
  label = "Export CSV",
  disabled,
}: {
  path?: string;
  build?: () => void | Promise<void>;
  fileName: string;
  label?: string;
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      if (path) await downloadCsv(path, fileName);
      else await build?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Button
        icon={busy ? <Spinner size="tiny" /> : <ArrowDownloadRegular />}
        onClick={run}
        disabled={busy || disabled}
      >
        {label}
      </Button>
      {error ? <ErrorBar error={error} title="Export failed" /> : null}
    </>
  );
}
