// Groups: server-paged list with search, $count, CSV export; a group's detail: direct and transitive
// members (users, devices, groups) and the groups it belongs to.
import { Link as FluentLink, Tab, TabList } from "@fluentui/react-components";
import { PeopleTeamRegular } from "@fluentui/react-icons";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { Link, Route, Switch, useLocation, useParams } from "wouter";
import { api, downloadRowsAsCsv, getAll } from "../../api/client.ts";
import { CsvExportButton } from "../../components/CsvExportButton.tsx";
import { type Column, DataTable, type SortState } from "../../components/DataTable.tsx";
import { EmptyState } from "../../components/EmptyState.tsx";
import { ErrorBar } from "../../components/ErrorBar.tsx";
import { PageHeader } from "../../components/PageHeader.tsx";
import {
  Facts,
  lit,
  orderBy,
  SearchField,
  Section,
  Toolbar,
  useDebounced,
  useServerList,
  when,
} from "../users/serverList.tsx";

interface Group {
  id: string;
  displayName: string;
  description?: string | null;
  memberKind?: string | null;
  mailNickname?: string | null;
  createdDateTime?: string;
}
interface Member {
  id: string;
  "@odata.type": string;
  displayName?: string;
  deviceName?: string;
  userPrincipalName?: string;
}

const columns: Column<Group>[] = [
  { key: "displayName", header: "Group", render: (g) => <Link href={`/${g.id}`}>{g.displayName}</Link> },
  { key: "description", header: "Description", sortable: false },
  { key: "memberKind", header: "Members", width: "120px", sortable: false },
  { key: "createdDateTime", header: "Created", width: "200px", render: (g) => when(g.createdDateTime) },
];

function GroupList() {
  const [search, setSearch] = useState("");
  const term = useDebounced(search.trim());
  const [sort, setSort] = useState<SortState>({ key: "displayName", direction: "ascending" });
  const [, navigate] = useLocation();
  const filter = term ? `startswith(displayName,${lit(term)})` : undefined;
  const list = useServerList<Group>(["groups"], "/v1.0/groups", {
    $top: 200,
    $filter: filter,
    $orderby: orderBy(sort),
  });
  return (
    <>
      <PageHeader
        title="Groups"
        description="Assignments target groups: browse them and their direct and transitive members."
        actions={
          <CsvExportButton
            fileName="groups.csv"
            build={async () =>
              downloadRowsAsCsv(
                (await getAll<Group>(
                  `/v1.0/groups?$top=999${filter ? `&$filter=${encodeURIComponent(filter)}` : ""}`,
                )) as never,
                ["displayName", "description", "memberKind", "createdDateTime", "id"].map((k) => ({
                  key: k,
                  header: k,
                })),
                "groups.csv",
              )
            }
          />
        }
      />
      <Toolbar count={list.count} loaded={list.rows.length}>
        <SearchField
          label="Search groups"
          hint="Group name starts with…"
          value={search}
          onChange={setSearch}
        />
      </Toolbar>
      {list.q.error ? <ErrorBar error={list.q.error} onRetry={() => list.q.refetch()} /> : null}
      <DataTable<Group>
        label="Groups"
        columns={columns}
        rows={list.rows}
        getRowId={(g) => g.id}
        sort={sort}
        onSortChange={setSort}
        onEndReached={list.onEndReached}
        loadingMore={list.loadingMore}
        onRowClick={(g) => navigate(`/${g.id}`)}
        empty={
          list.q.isLoading ? (
            <EmptyState title="Loading groups…" />
          ) : term ? (
            <EmptyState title="No matching groups">No group name starts with “{term}”.</EmptyState>
          ) : (
            <EmptyState icon={<PeopleTeamRegular />} title="No groups yet">
              Import groups and memberships from CSV (POST /beta/imports), provision them with SCIM
              (Settings), or create them with the API; then assign apps to them from Apps and books.
            </EmptyState>
          )
        }
      />
    </>
  );
}

function memberHref(m: Member): string {
  const t = m["@odata.type"];
  if (t.includes("managedDevice")) return `~/devices/${m.id}`;
  if (t.includes("group")) return `~/groups/${m.id}`;
  return `~/users/${m.id}`;
}
function memberKind(m: Member): string {
  const t = m["@odata.type"];
  return t.includes("managedDevice") ? "Device" : t.includes("group") ? "Group" : "User";
}

function GroupDetail() {
  const { id } = useParams<{ id: string }>();
  const [tab, setTab] = useState("members");
  const group = useQuery({
    queryKey: ["group", id],
    queryFn: () => api<Group>(`/v1.0/groups/${encodeURIComponent(id)}`),
  });
  const path = tab === "memberOf" ? `/v1.0/groups/${id}/memberOf` : `/v1.0/groups/${id}/${tab}?$top=999`;
  const rel = useQuery({
    queryKey: ["group", id, tab],
    queryFn: () => getAll<Member>(path, { limit: 20000 }),
  });
  const g = group.data;
  return (
    <>
      <PageHeader
        title={g?.displayName ?? "Group"}
        description={g?.description ?? undefined}
        actions={
          <Link href="/" asChild>
            <FluentLink>Back to groups</FluentLink>
          </Link>
        }
      />
      {group.error ? <ErrorBar error={group.error} onRetry={() => group.refetch()} /> : null}
      <Facts
        items={[
          ["Members", g?.memberKind],
          ["Mail nickname", g?.mailNickname],
          ["Created", when(g?.createdDateTime)],
        ]}
      />
      <Section
        title="Membership"
        actions={
          <CsvExportButton
            fileName={`group-${tab}.csv`}
            disabled={!rel.data?.length}
            build={() =>
              downloadRowsAsCsv(
                (rel.data ?? []).map((m) => ({
                  kind: memberKind(m),
                  name: m.displayName ?? m.deviceName,
                  upn: m.userPrincipalName,
                  id: m.id,
                })),
                [
                  { key: "kind", header: "type" },
                  { key: "name", header: "displayName" },
                  { key: "upn", header: "userPrincipalName" },
                  { key: "id", header: "id" },
                ],
                `group-${tab}.csv`,
              )
            }
          />
        }
      >
        <TabList
          selectedValue={tab}
          onTabSelect={(_, d) => setTab(String(d.value))}
          aria-label="Group relations"
        >
          <Tab value="members">Direct members</Tab>
          <Tab value="transitiveMembers">Transitive members</Tab>
          <Tab value="memberOf">Member of</Tab>
        </TabList>
        {rel.error ? (
          <ErrorBar error={rel.error} onRetry={() => rel.refetch()} />
        ) : (
          <DataTable<Member>
            label={tab === "memberOf" ? "Groups this group is in" : "Members"}
            height="50vh"
            rows={rel.data ?? []}
            getRowId={(m) => m.id}
            columns={[
              {
                key: "name",
                header: "Name",
                sortValue: (m) => m.displayName ?? m.deviceName,
                render: (m) => <Link href={memberHref(m)}>{m.displayName ?? m.deviceName ?? m.id}</Link>,
              },
              { key: "kind", header: "Type", width: "120px", sortValue: memberKind, render: memberKind },
              { key: "userPrincipalName", header: "User principal name" },
            ]}
            empty={
              <EmptyState
                title={rel.isLoading ? "Loading…" : tab === "memberOf" ? "Not nested" : "No members"}
              >
                {rel.isLoading
                  ? null
                  : tab === "memberOf"
                    ? "This group is not a member of another group."
                    : "Add members with CSV import, SCIM or POST /v1.0/groups/{id}/members/$ref."}
              </EmptyState>
            }
          />
        )}
      </Section>
    </>
  );
}

export default function Groups() {
  return (
    <Switch>
      <Route path="/:id" component={GroupDetail} />
      <Route component={GroupList} />
    </Switch>
  );
}
