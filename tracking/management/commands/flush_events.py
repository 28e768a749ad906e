import os
import signal

from django.core.management.base import BaseCommand, CommandError

from tracking import buffer


class Command(BaseCommand):
    help = "Move buffered events from Redis into the database (runs until stopped; --once drains and exits)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Drain the buffer once, then exit.")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--linger",
            type=float,
            default=buffer.LINGER_SECONDS,
            help="Seconds to wait after a small batch, so batches grow under load (default %(default)s; 0: never).",
        )
        parser.add_argument(
            "--nice",
            type=int,
            default=10,
            help="Lower this process's CPU priority by N (default %(default)s): on a machine shared with the web "
            "workers, answering requests comes first and storing a batch can wait a moment. 0 keeps it.",
        )

    def handle(self, *args, once, batch_size, linger, nice, **options):
        if not buffer.enabled():
            raise CommandError("REDIS_URL is not set: events are stored directly, there is no buffer to flush.")
        if not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000")
        if not 0 <= linger <= 10:
            raise CommandError("--linger must be between 0 and 10 seconds")
        if not 0 <= nice <= 19:
            raise CommandError("--nice must be between 0 and 19")
        flusher = buffer.Flusher(batch_size=batch_size, linger=linger)
        if once:
            self.stdout.write(f"Flushed {flusher.drain()} buffered requests.")
            return
        if nice:
            os.nice(nice)
        stopping = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.append(True))
        self.stdout.write("Flushing events; stop with SIGTERM.")
        flusher.run(should_stop=lambda: bool(stopping))
