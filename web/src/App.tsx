// Session gate + routes. Signed out (or any API call answering 401) → the sign-in form, in place.
import { FluentProvider, Spinner, webLightTheme } from "@fluentui/react-components";
import { useQueryClient } from "@tanstack/react-query";
import { Suspense, useEffect, useState } from "react";
import { Route, Switch } from "wouter";
import { setUnauthorizedHandler } from "./api/client.ts";
import { SessionContext, sessionKey, useSessionQuery } from "./api/session.ts";
import { AppShell } from "./components/AppShell.tsx";
import { ErrorBar } from "./components/ErrorBar.tsx";
import { PageHeader } from "./components/PageHeader.tsx";
import { SignIn } from "./pages/signin/SignIn.tsx";
import { pages } from "./pages.ts";

function Routes() {
  return (
    <Suspense fallback={<Spinner label="Loading…" />}>
      <Switch>
        {pages.map((p) =>
          p.path === "/" ? (
            <Route key={p.path} path="/" component={p.component} />
          ) : (
            <Route key={p.path} path={p.path} nest>
              <p.component />
            </Route>
          ),
        )}
        <Route>
          <PageHeader
            title="Page not found"
            description="This address is not a page of the console. Pick a page on the left."
          />
        </Route>
      </Switch>
    </Suspense>
  );
}

export function App() {
  const qc = useQueryClient();
  const session = useSessionQuery();
  const [expired, setExpired] = useState(false);
  useEffect(() => {
    setUnauthorizedHandler(() => {
      setExpired(true);
      qc.setQueryData(sessionKey, null);
    });
    return () => setUnauthorizedHandler(undefined);
  }, [qc]);

  let body: React.ReactNode;
  if (session.isPending) body = <Spinner label="Loading…" style={{ marginTop: "30vh" }} />;
  else if (session.isError)
    body = (
      <ErrorBar error={session.error} title="Allot could not be reached" onRetry={() => session.refetch()} />
    );
  else if (!session.data) body = <SignIn expired={expired} />;
  else
    body = (
      <SessionContext.Provider value={session.data}>
        <AppShell>
          <Routes />
        </AppShell>
      </SessionContext.Provider>
    );
  return <FluentProvider theme={webLightTheme}>{body}</FluentProvider>;
}
