import { EmptyState } from "./EmptyState.tsx";
import { PageHeader } from "./PageHeader.tsx";

/** Stand-in for a page not built yet: its title and what it will hold. */
export function PagePlaceholder({ title, description }: { title: string; description: string }) {
  return (
    <>
      <PageHeader title={title} description={description} />
      <EmptyState title="Coming soon">This page is being built.</EmptyState>
    </>
  );
}
