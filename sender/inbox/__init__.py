"""The recipients' side: who a recipient is, their inbox of stored messages, private
attachments, read receipts, invitations and the live unread counter.

Plain functions live here (people, messages, files, invite, live); views and the
websocket consumer only parse, call and render.
"""
