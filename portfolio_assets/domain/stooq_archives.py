"""Stooq's archives read as the folders they unpack to (SPEC 1.3): which members count,
where each member's bytes are, and reading them back, verified.

An archive `X.zip` at the top of the Stooq folder (suffix in any case) stands for the
folder `X/`: its member `data/daily/us/.../aapl.us.txt` is the file
`X/data/daily/us/.../aapl.us.txt`. A member's name is first made the path `unzip -o`
writes it to: empty, `.` and `..` parts dropped. Of the entries with one such path the
last one (directory and symlink entries included) is what `unzip -o` leaves on disk, and
it counts as a file of the tree would: its path ends in `.txt` (any case), no part of it
starts with `.`, it is not a directory entry and not a symlink (Unix mode `S_IFLNK` in
its external attributes). A counted name must be UTF-8, judged on the raw bytes `unzip`
would write, whatever the archive's UTF-8 flag says (Python's `zipfile` would decode a
name without it as cp437). In an archive made on MS-DOS or Windows `\\` is a separator,
and a non-ASCII name without the UTF-8 flag is refused: `unzip` would convert it from
the DOS code page into bytes that are not UTF-8.

The listing comes from the central directory alone (name, size, CRC-32 and where the
member starts), read with `struct` from the end records (zip64 ones included), and is kept in this process by the archive's stat identity, so an
archive listed once is not listed again while unchanged. A member's stamp is its size
and CRC-32 (`<size>:crc32:<crc>`): a new download whose member has the same size and
CRC-32 leaves that member's stamp, and so everything made from it, as it was.
A member is read by its local header and decompressed here (stored or deflate), then
its size and CRC-32 are checked: any difference is an error naming archive and member.
"""

from __future__ import annotations

import os
import stat as stat_module
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputVanished, PortfolioInputError, printable

__all__ = [
    "ArchiveFolderConflict",
    "ArchiveListing",
    "ArchiveMember",
    "BrokenArchive",
    "archive_folder",
    "has_end_record",
    "is_archive_name",
    "keep_listings_of",
    "list_archive",
    "member_stamp",
    "read_member",
]

ARCHIVE_SUFFIX = ".zip"
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
# The central directory record: signature, versions (4 bytes), flags, method, time,
# date, CRC-32, sizes, name, extra and comment lengths, disk, attributes, offset.
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_CENTRAL_SIGNATURE = b"PK\x01\x02"
# The end record: signature, disks, record counts, directory size and offset, comment length.
_END = struct.Struct("<4s4H2LH")
_END_SIGNATURE = b"PK\x05\x06"
_END64_LOCATOR = struct.Struct("<4sLQL")
_END64_LOCATOR_SIGNATURE = b"PK\x06\x07"
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_SIGNATURE = b"PK\x06\x06"
_ZIP64_EXTRA = 0x0001
_ZIP64_MARK = 0xFFFFFFFF
# The end record is 22 bytes plus a comment of at most 65,535.
_END_SEARCH = 22 + 65535
_ENCRYPTED_FLAG = 1
_UTF8_FLAG = 0x800
# "Version made by" hosts MS-DOS (FAT), Windows NTFS and VFAT.
_DOS_HOSTS = frozenset((0, 11, 14))
_STORED, _DEFLATED = 0, 8


class BrokenArchive(PortfolioInputError):
    """An archive that is incomplete (still downloading), corrupt, or has a member that
    cannot be read as the file it stands for; the message names archive and member."""


class ArchiveFolderConflict(PortfolioInputError):
    """An archive and a folder (or two archives) standing for the same folder."""


def is_archive_name(name: str) -> bool:
    """Whether a top-level name of the Stooq folder is an archive that counts."""
    return len(name) > len(ARCHIVE_SUFFIX) and name.lower().endswith(ARCHIVE_SUFFIX) and not name.startswith(".")


def archive_folder(name: str) -> str:
    """The folder an archive stands for: `d_us_txt.zip` gives `d_us_txt`."""
    return name[: -len(ARCHIVE_SUFFIX)]


def member_stamp(size: int, crc32: int) -> str:
    """A member's stamp: what the central directory says of its bytes."""
    return f"{size}:crc32:{crc32:08x}"


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """Where one counted member's bytes are, as the central directory says."""

    archive: Path
    archive_stamp: str
    """The archive's size, mtime, ctime and inode when listed: its offsets hold only then."""
    name: str
    """The member's name in the archive, as one line of text."""
    relative_path: str
    size: int
    crc32: int
    compress_size: int
    method: int
    flags: int
    header_offset: int

    @property
    def stamp(self) -> str:
        return member_stamp(self.size, self.crc32)

    def __str__(self) -> str:
        return f"{printable(self.archive)}, member {self.name}"


@dataclass(frozen=True, slots=True)
class ArchiveListing:
    archive_stamp: str
    members: dict[str, ArchiveMember]
    """Counted members by relative path (`X/<member name>`)."""


def _identity(stat: os.stat_result) -> str:
    return f"{stat.st_size}:{stat.st_mtime_ns}:{stat.st_ctime_ns}:{stat.st_ino}"


# Listings this process made, by archive path; an entry holds while the archive's stat
# identity is the one it was listed under.
_LISTINGS: dict[str, ArchiveListing] = {}


def keep_listings_of(folder: Path, names: list[str]) -> None:
    """Forget the listings of archives in `folder` but those named (the ones a scan found
    there): a long-running process does not keep the listings of removed downloads."""
    kept = {str(folder / name) for name in names}
    for key in [key for key in _LISTINGS if key not in kept and os.path.dirname(key) == str(folder)]:
        del _LISTINGS[key]


def _incomplete(path: Path, problem: str) -> BrokenArchive:
    return BrokenArchive(
        f"Stooq archive {printable(path)}: {problem}; if it is still downloading, run again once "
        "it is complete, else download it again. No output was changed"
    )


def list_archive(path: Path) -> ArchiveListing:
    """The counted members of the archive at `path` (the last of members with one name)."""
    with open(path, "rb") as handle:
        stamp = _identity(os.fstat(handle.fileno()))
        known = _LISTINGS.get(str(path))
        if known is not None and known.archive_stamp == stamp:
            return known
        entries = _central_directory(path, handle.fileno(), int(stamp.split(":")[0]))
        if _identity(os.fstat(handle.fileno())) != stamp:
            raise _incomplete(path, "it changed while its listing was read")
    # The last entry of a name (directories and symlinks too) is what `unzip -o` leaves.
    last_entries: dict[bytes, _Entry] = {}
    for entry in entries:
        name = _unpacked_name(entry.written_name)
        last_entries.pop(name, None)
        last_entries[name] = entry
    folder = archive_folder(path.name)
    members: dict[str, ArchiveMember] = {}
    for name, entry in last_entries.items():
        relative = _counted_name(path, name, entry)
        if relative is None:
            continue
        member = ArchiveMember(
            path,
            stamp,
            _shown(entry.raw_name),
            f"{folder}/{relative}",
            entry.size,
            entry.crc32,
            entry.compress_size,
            entry.method,
            entry.flags,
            entry.header_offset,
        )
        members[member.relative_path] = member
    listing = ArchiveListing(stamp, members)
    _LISTINGS[str(path)] = listing
    return listing


@dataclass(frozen=True, slots=True)
class _Entry:
    """A central directory record, as far as the listing needs it."""

    raw_name: bytes
    flags: int
    method: int
    crc32: int
    compress_size: int
    size: int
    external_attr: int
    header_offset: int
    made_on_dos: bool
    """Made on MS-DOS or Windows ("version made by" host 0, 11 or 14): `unzip` reads its
    names with `\\` as a separator and in the DOS code page."""
    written_name: bytes
    """The name with the separators `unzip` writes."""


def _central_directory(path: Path, fd: int, size: int) -> list[_Entry]:
    """Every record of the archive's central directory, read from its end records (zip64
    ones included). Read with `struct` rather than `zipfile`: four times faster on
    100,000 members, and the raw name bytes come as they are."""
    start = max(0, size - _END_SEARCH)
    tail = os.pread(fd, size - start, start)
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or len(tail) - at < _END.size:
        raise _incomplete(path, "no end-of-central-directory record (not a complete zip archive)")
    end_at = start + at
    _, _, _, _, count, cd_size, cd_offset, _ = _END.unpack_from(tail, at)
    directory_end = end_at
    locator_at = at - _END64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == _END64_LOCATOR_SIGNATURE:
        # The zip64 end record lies just before its locator (as zipfile reads it): the
        # locator's offset would miss it by the length of a stub before the archive. Only
        # a record with extensible data after it is found at that offset instead.
        end64_at = start + locator_at - _END64.size
        record = os.pread(fd, _END64.size, end64_at) if end64_at >= 0 else b""
        if record[:4] != _END64_SIGNATURE:
            end64_at = _END64_LOCATOR.unpack_from(tail, locator_at)[2]
            record = os.pread(fd, _END64.size, end64_at) if end64_at <= size - _END64.size else b""
        if len(record) < _END64.size or record[:4] != _END64_SIGNATURE:
            raise _incomplete(path, "its zip64 end record is missing or damaged")
        _, _, _, _, _, _, _, count, cd_size, cd_offset = _END64.unpack(record)
        directory_end = end64_at
    # Bytes before the archive proper (a self-extractor's stub) shift every offset.
    shift = directory_end - cd_size - cd_offset
    directory_start = cd_offset + shift
    directory = _pread_all(fd, cd_size, directory_start) if shift >= 0 else b""
    if len(directory) != cd_size:
        raise _incomplete(path, "its central directory is truncated")
    entries = []
    position = 0
    # Records are read until the directory's size is used up, not `count` of them: writers
    # without zip64 put the count modulo 65,536 in the end record, and unzip reads them all.
    while position < cd_size:
        if directory[position : position + 4] != _CENTRAL_SIGNATURE or position + _CENTRAL.size > cd_size:
            raise _incomplete(path, "its central directory is damaged")
        fields = _CENTRAL.unpack_from(directory, position)
        name_length, extra_length, comment_length = fields[12], fields[13], fields[14]
        name_at = position + _CENTRAL.size
        if name_at + name_length + extra_length + comment_length > cd_size:
            raise _incomplete(path, "its central directory is damaged")
        extra = directory[name_at + name_length : name_at + name_length + extra_length]
        compress_size, file_size, offset = fields[10], fields[11], fields[18]
        if _ZIP64_MARK in (compress_size, file_size, offset):
            file_size, compress_size, offset = _zip64_sizes(path, extra, file_size, compress_size, offset)
        if offset + shift + _LOCAL_HEADER.size + compress_size > directory_start:
            # Checked here so that a damaged size never makes a read of gigabytes.
            raise _incomplete(path, f"member {_shown(directory[name_at : name_at + name_length])} lies outside it")
        raw_name = directory[name_at : name_at + name_length]
        made_on_dos = fields[2] in _DOS_HOSTS
        entries.append(
            _Entry(
                raw_name,
                fields[5],
                fields[6],
                fields[9],
                compress_size,
                file_size,
                fields[17],
                offset + shift,
                made_on_dos,
                raw_name.replace(b"\\", b"/") if made_on_dos else raw_name,
            )
        )
        position = name_at + name_length + extra_length + comment_length
    if len(entries) % 0x10000 != count % 0x10000:
        raise _incomplete(path, f"its central directory holds {len(entries)} members, its end record says {count}")
    return entries


def _zip64_sizes(path: Path, extra: bytes, size: int, compress_size: int, offset: int) -> tuple[int, int, int]:
    """The sizes and offset a zip64 extra field holds for those marked 0xFFFFFFFF, in its order."""
    position = 0
    while position + 4 <= len(extra):
        kind, length = struct.unpack_from("<HH", extra, position)
        if kind == _ZIP64_EXTRA:
            field = extra[position + 4 : position + 4 + length]
            if len(field) < length:
                break
            values = iter(struct.unpack_from(f"<{len(field) // 8}Q", field))
            try:
                size = next(values) if size == _ZIP64_MARK else size
                compress_size = next(values) if compress_size == _ZIP64_MARK else compress_size
                offset = next(values) if offset == _ZIP64_MARK else offset
            except StopIteration:
                break
            return size, compress_size, offset
        position += 4 + length
    raise _incomplete(path, "a member's zip64 sizes are missing")


def _unpacked_name(raw: bytes) -> bytes:
    """The path `unzip -o` writes a member to, inside its folder: empty, `.` and `..` parts
    dropped (so nothing is written outside the folder)."""
    framed = b"/" + raw
    if b"//" not in framed and b"/." not in framed and not raw.endswith(b"/"):
        return raw  # nothing to drop: most names, read without splitting
    return b"/".join(part for part in raw.split(b"/") if part not in (b"", b".", b".."))


def _shown(raw: bytes) -> str:
    """A raw member name as one line of text: bytes that are not UTF-8 and characters that
    do not print (a line break) shown as escapes."""
    text = raw.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


def _counted_name(archive: Path, name: bytes, entry: _Entry) -> str | None:
    """The path inside its folder of the member `unzip -o` leaves at `name`, or None when
    it does not count (SPEC 1.1)."""
    if (
        not name
        or entry.written_name.endswith(b"/")
        or stat_module.S_ISLNK(entry.external_attr >> 16)
        or name[-4:].lower() != b".txt"
    ):
        return None
    if b"/." in b"/" + name:  # a part starting with `.`
        return None
    if entry.made_on_dos and not entry.flags & _UTF8_FLAG and not name.isascii():
        # unzip converts such a name from the DOS code page; the unpacked tree would refuse
        # what it writes, so the archive is refused as well.
        raise BrokenArchive(
            f"Stooq archive {printable(archive)}, member {_shown(entry.raw_name)}: its name is not ASCII and "
            "the archive, made on MS-DOS or Windows, does not mark it as UTF-8, so it cannot be listed in the "
            "index; rename it in the archive (or remove it) and run again"
        )
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        raise BrokenArchive(
            f"Stooq archive {printable(archive)}, member {_shown(entry.raw_name)}: its name is not valid "
            "UTF-8, so it cannot be listed in the index; rename it in the archive (or remove it) and run again"
        ) from None


def has_end_record(path: Path) -> bool:
    """Whether the file ends with a zip end-of-central-directory record: a download in
    progress has none yet (its last bytes are not written, or are zeros)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            start = max(0, size - _END_SEARCH)
            tail = os.pread(handle.fileno(), size - start, start)
    except OSError:
        return False
    at = tail.rfind(_END_SIGNATURE)
    return at >= 0 and len(tail) - at >= 22


def _pread_all(fd: int, size: int, offset: int) -> bytes:
    """`size` bytes from `offset`, fewer only at the end of the file: one read returns at
    most about 2 GiB on Linux, and a zip64 member may be larger."""
    parts = []
    while size > 0:
        part = os.pread(fd, size, offset)
        if not part:
            break
        parts.append(part)
        size -= len(part)
        offset += len(part)
    return b"".join(parts) if len(parts) != 1 else parts[0]


def _corrupt(member: ArchiveMember, problem: str) -> BrokenArchive:
    return BrokenArchive(
        f"Stooq archive {member}: {problem}; the archive is corrupt or incomplete, download it "
        "again. The reports and price exports were left as they were (the Stooq index follows the archive's "
        "list of members, which is whole)"
    )


def read_member(member: ArchiveMember) -> bytes:
    """The member's bytes, decompressed and checked against its size and CRC-32.

    Raises InputVanished when the archive is gone or was replaced since it was listed
    (its offsets no longer hold), BrokenArchive when the member cannot be read."""
    try:
        handle = open(member.archive, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise InputVanished(member.archive, "its members were being read") from None
    with handle:
        if _identity(os.fstat(handle.fileno())) != member.archive_stamp:
            raise InputVanished(member.archive, "its members were being read (it was replaced)")
        header = os.pread(handle.fileno(), _LOCAL_HEADER.size, member.header_offset)
        if len(header) < _LOCAL_HEADER.size or header[:4] != _LOCAL_SIGNATURE:
            raise _corrupt(member, "no local header where the central directory puts it")
        name_length, extra_length = _LOCAL_HEADER.unpack(header)[-2:]
        start = member.header_offset + _LOCAL_HEADER.size + name_length + extra_length
        data = _pread_all(handle.fileno(), member.compress_size, start)
    if len(data) < member.compress_size:
        raise _corrupt(member, "its data is truncated")
    if member.flags & _ENCRYPTED_FLAG:
        raise _corrupt(member, "it is encrypted")
    if member.method == _STORED:
        content = data
    elif member.method == _DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            # One byte more than the member's size is enough to tell a damaged stream.
            content = inflater.decompress(data, member.size + 1)
        except zlib.error as error:
            raise _corrupt(member, f"its compressed data is damaged ({error})") from None
        if len(content) > member.size:
            raise _corrupt(member, "its bytes do not match the CRC-32 and size of the central directory")
        if not inflater.eof:
            raise _corrupt(member, "its compressed data is truncated")
    else:
        raise BrokenArchive(
            f"Stooq archive {member}: compression method {member.method} is not supported "
            "(Stooq's archives use deflate); unpack this archive instead"
        )
    if len(content) != member.size or zlib.crc32(content) != member.crc32:
        raise _corrupt(member, "its bytes do not match the CRC-32 and size of the central directory")
    return content
