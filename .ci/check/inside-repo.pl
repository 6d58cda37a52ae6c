#!/usr/bin/env perl
# Fails when a tracked file names a relative path that climbs out of the
# repository (a "../" run longer than the file's depth): a user's clone has
# nothing beside it, so every test must find what it needs inside.
use strict;
use warnings;
my $bad = 0;
for my $file (split /\0/, `git ls-files -z`) {
  next if $file =~ m{(^|/)node_modules/} || $file =~ /\.(md|json|lock)$/ || $file eq '.ci/check/inside-repo.pl';
  my $depth = () = $file =~ m{/}g;
  open my $fh, '<', $file or next;
  while (my $line = <$fh>) {
    while ($line =~ m{((?:\.\./)+)}g) {
      my $ups = () = $1 =~ m{\.\./}g;
      if ($ups > $depth) {
        print "$file:$.: refers outside the repository: $line";
        $bad = 1;
      }
    }
  }
}
exit $bad;
