#!/bin/sh
# SPDX-License-Identifier: ISC
# popfetch and procmail(1).
#
# Run this script to print an example ~/.procmailrc (it changes nothing):
#
#     sh procmail-example.sh > procmailrc.example
#
# then read it and copy what you want into ~/.procmailrc.
#
# popfetch hands each message to procmail as its MDA. In the account's
# section of ~/.config/popfetch/config (see popfetch.conf.example):
#
#     mda procmail -f %F
#     delete
#
# or on the command line (in a crontab, write \%F: cron turns % into a
# newline):
#
#     popfetch -u alice --delete --mda 'procmail -f %F' pop.example.org
#
# %F is the envelope sender, from the message's Return-Path:. One procmail
# runs per message: exit 0 means delivered, and anything else leaves the
# message on the server for the next run (75, procmail's "try again
# later", is a temporary failure; see popfetch(1), DELIVERY).
#
# procmail can also read popfetch's mboxrd stream, split by formail:
#
#     popfetch -u alice --stdout pop.example.org | formail -s procmail
#
# but a message then counts as delivered once it is written to the pipe,
# whatever procmail does with it: prefer the MDA form, above all with
# --delete.

cat <<'RC'
# ~/.procmailrc: sort mail from popfetch into Maildir folders.
# A folder name ending in / makes procmail write a Maildir (new/, cur/,
# tmp/), which needs no lock files. procmail creates a missing folder but
# not the directories above it, so create the inbox first:
#     mkdir -p ~/Maildir
# The paths are absolute: nothing depends on where procmail starts.

DEFAULT=$HOME/Maildir/
LOGFILE=$HOME/.procmail.log

# A mailing list into a folder of its own, chosen by its List-Id.
:0
* ^List-Id:.*<popfetch-users\.lists\.example\.org>
$HOME/Maildir/.lists.popfetch/

# Mail that the server's spam filter has flagged.
:0
* ^X-Spam-Flag: *YES
$HOME/Maildir/.Junk/

# Everything else goes to $DEFAULT, the inbox.
RC
