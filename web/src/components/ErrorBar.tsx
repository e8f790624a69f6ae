import {
  Button,
  MessageBar,
  MessageBarActions,
  MessageBarBody,
  MessageBarTitle,
} from "@fluentui/react-components";
import { ApiError } from "../api/client.ts";

/** What to do next, by kind of failure; the API's own message says what happened. */
function advice(err: unknown): string {
  if (!(err instanceof ApiError)) return "Try again; if it keeps failing, check the server log.";
  if (err.status === 0) return "Check that Allot is running and reachable, then retry.";
  if (err.status === 403)
    return "Your roles do not allow this. Ask a Global administrator for the role you need.";
  if (err.status === 404) return "It may have been deleted. Refresh the list.";
  if (err.status === 409 || err.status === 412) return "Someone changed it meanwhile. Refresh and try again.";
  if (err.status === 429) return "Too many requests: wait a moment, then retry.";
  if (err.status >= 500)
    return `Retry in a moment; if it persists, give the request id${err.requestId ? ` ${err.requestId}` : ""} to your Allot operator.`;
  return "Correct the input and try again.";
}

/** An error from the API (or anything thrown): what happened, what to do, and a retry when given. */
export function ErrorBar({
  error,
  title,
  onRetry,
}: {
  error: unknown;
  title?: string;
  onRetry?: () => void;
}) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <MessageBar intent="error" role="alert" layout="multiline">
      <MessageBarBody>
        <MessageBarTitle>{title ?? "Something went wrong"}</MessageBarTitle>
        {message} {advice(error)}
      </MessageBarBody>
      {onRetry && (
        <MessageBarActions>
          <Button onClick={onRetry}>Retry</Button>
        </MessageBarActions>
      )}
    </MessageBar>
  );
}
