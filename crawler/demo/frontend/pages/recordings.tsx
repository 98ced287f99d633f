// Recordings: the list, and one recording with its player.
import useSWR from "swr";
import ky from "ky";
import { fetcher } from "../lib/api";

type Recording = { id: string; title: string; duration_s: number };

export function RecordingList() {
  // Mismatch: the backend has GET /api/recordings/{id} only (no list handler).
  const { data, error } = useSWR<{ recordings: Recording[] }>("/api/recordings", fetcher);
  if (error) return <p>Could not load recordings.</p>;
  return (
    <ul>
      {data?.recordings.map((r) => (
        <li key={r.id}>
          <a href={`/recordings/${r.id}`}>{r.title}</a>
        </li>
      ))}
    </ul>
  );
}

export function RecordingPage({ id }: { id?: string }) {
  const { data: recording } = useSWR<Recording>(id ? `/api/recordings/${id}` : null, fetcher);
  return <h1>{recording?.title ?? "Loading…"}</h1>;
}

export async function loadTranscript(recordingId: string) {
  // Mismatch: a typo, "recordngs".
  return ky.get(`/api/recordngs/${recordingId}`).json<{ text: string }>();
}
